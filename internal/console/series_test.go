package console

import (
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/reqscope"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 30, 0, time.UTC)

func observe(se *Series, at time.Time, latency time.Duration, status int) {
	s := &reqscope.Scope{Start: at.Add(-latency), Model: "m", PromptTokens: 10, CompletionTokens: 5}
	se.ObserveRequest(s, "POST /v1/chat/completions", status, at)
}

func TestSeriesSummary(t *testing.T) {
	se := NewSeries()
	for i := range 100 {
		observe(se, t0, time.Duration(i+1)*time.Millisecond, 200)
	}
	observe(se, t0, time.Millisecond, 502)
	observe(se, t0, time.Millisecond, 429)
	se.ObserveRequest(&reqscope.Scope{Start: t0}, "GET /healthz", 200, t0) // not traffic
	s := se.Summary(t0, time.Hour)
	if s.Requests != 102 || s.Errors != 1 || s.Refused != 1 {
		t.Fatalf("summary = %+v", s)
	}
	if s.Prompt != 1020 || s.Completion != 510 {
		t.Fatalf("tokens = %d/%d", s.Prompt, s.Completion)
	}
	// p50 of 1..100 ms is ~50 ms: the bucket bound at or above it.
	if s.P50 < 50*time.Millisecond || s.P50 > 76*time.Millisecond {
		t.Fatalf("p50 = %v", s.P50)
	}
	if s.P95 < 95*time.Millisecond || s.P95 > 150*time.Millisecond {
		t.Fatalf("p95 = %v", s.P95)
	}
}

func TestSeriesWindowAndWrap(t *testing.T) {
	se := NewSeries()
	observe(se, t0, time.Millisecond, 200)
	observe(se, t0.Add(-2*time.Hour), time.Millisecond, 200)
	if n := se.Summary(t0, time.Hour).Requests; n != 1 {
		t.Fatalf("last hour = %d, want 1", n)
	}
	if n := se.Summary(t0, 24*time.Hour).Requests; n != 2 {
		t.Fatalf("last day = %d, want 2", n)
	}
	// A day later the same slots are reused: old minutes do not count.
	later := t0.Add(24 * time.Hour)
	observe(se, later, time.Millisecond, 200)
	if n := se.Summary(later, 24*time.Hour).Requests; n != 1 {
		t.Fatalf("after a day = %d, want 1 (stale slots reset)", n)
	}
}

func TestSeriesCostAndCache(t *testing.T) {
	se := NewSeries()
	s := &reqscope.Scope{Start: t0, Priced: true, PromptTokens: 3,
		Cost: pricing.Cost{Currency: pricing.USD, Amount: 1500, Saved: 200}}
	se.ObserveRequest(s, "POST /v1/chat/completions", 200, t0)
	hit := &reqscope.Scope{Start: t0, CacheResult: "hit", PromptTokens: 99}
	se.ObserveRequest(hit, "POST /v1/chat/completions", 200, t0)
	sum := se.Summary(t0, time.Hour)
	if sum.CostUSD != 1500 || sum.SavedUSD != 200 || sum.CacheHits != 1 || sum.Prompt != 3 {
		t.Fatalf("summary = %+v", sum)
	}
}

func TestSeriesPoints(t *testing.T) {
	se := NewSeries()
	observe(se, t0, time.Millisecond, 200)
	observe(se, t0.Add(-30*time.Minute), time.Millisecond, 500)
	pts := se.Points(t0, time.Hour, 60)
	if len(pts) != 60 {
		t.Fatalf("%d points", len(pts))
	}
	if pts[59].Requests != 1 || pts[29].Errors != 1 {
		t.Fatalf("points: last %+v, middle %+v", pts[59], pts[29])
	}
	var total int64
	for _, p := range se.Points(t0, 24*time.Hour, 48) {
		total += p.Requests
	}
	if total != 2 {
		t.Fatalf("day points hold %d requests", total)
	}
}

// The ring's update runs for every request: it must not allocate.
func TestSeriesObserveDoesNotAllocate(t *testing.T) {
	se := NewSeries()
	s := &reqscope.Scope{Start: t0, Model: "m", Stream: true, FirstToken: time.Millisecond, Priced: true,
		Cost: pricing.Cost{Currency: pricing.CNY, Amount: 1}}
	if n := testing.AllocsPerRun(1000, func() {
		se.ObserveRequest(s, "POST /v1/chat/completions", 200, t0)
	}); n != 0 {
		t.Fatalf("ObserveRequest allocates %v times", n)
	}
}

// BenchmarkSeriesObserve is the console's whole cost on the request path.
func BenchmarkSeriesObserve(b *testing.B) {
	se := NewSeries()
	s := &reqscope.Scope{Start: t0, Model: "m", Stream: true, FirstToken: 30 * time.Millisecond,
		PromptTokens: 100, CompletionTokens: 50}
	end := t0.Add(120 * time.Millisecond)
	b.ReportAllocs()
	for b.Loop() {
		se.ObserveRequest(s, "POST /v1/chat/completions", 200, end)
	}
}
