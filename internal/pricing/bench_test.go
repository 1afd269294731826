package pricing

import (
	"testing"
	"time"
)

func benchBook(tb testing.TB) (*Book, Query, Usage) {
	tb.Helper()
	b, err := New(Options{})
	if err != nil {
		tb.Fatal(err)
	}
	q := Query{Upstream: "deepseek", UpstreamModel: "deepseek-v4-flash", PublicModel: "chat",
		Start: time.Date(2026, 12, 3, 2, 30, 0, 0, time.UTC)} // 10:30 Beijing, peak
	return b, q, Usage{PromptTokens: 12_345, CacheHitTokens: 10_000, CompletionTokens: 789}
}

// Pricing one request (lookup by upstream name falling back to the public
// name, window, cost) and settling a calendar period allocate nothing.
func TestHotPathAllocations(t *testing.T) {
	b, q, u := benchBook(t)
	cal := newCal(t, "Asia/Shanghai", "")
	buf := make([]byte, 0, 64)
	n := testing.AllocsPerRun(1000, func() {
		c, ok := b.Quote(q, u)
		if !ok {
			t.Fatal("not priced")
		}
		buf = c.AppendHeader(buf[:0])
		_, _ = cal.Bounds(Day, q.Start)
		_, _ = cal.Bounds(Month, q.Start)
		buf = cal.AppendKey(buf[:0], Week, q.Start)
	})
	if n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}

func BenchmarkQuote(b *testing.B) {
	book, q, u := benchBook(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := book.Quote(q, u); !ok {
			b.Fatal("not priced")
		}
	}
}

// BenchmarkQuoteHeader adds formatting the X-Dsgate-Cost value.
func BenchmarkQuoteHeader(b *testing.B) {
	book, q, u := benchBook(b)
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		c, _ := book.Quote(q, u)
		buf = c.AppendHeader(buf[:0])
	}
}

// BenchmarkSettle is what settlement does once the Price was resolved at
// the request's start.
func BenchmarkSettle(b *testing.B) {
	book, q, u := benchBook(b)
	p, _ := book.Price(q)
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Cost(u)
	}
}

func BenchmarkPeriodBounds(b *testing.B) {
	cal, err := NewCalendar(CalendarOptions{TimeZone: "Europe/Berlin"})
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = cal.Bounds(Month, at)
	}
}
