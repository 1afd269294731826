package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
	"github.com/dsgate/dsgate/internal/upstream"
)

// clock is a fake clock safe for concurrent use: upstreams read it from
// their health and scrape goroutines.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Unix(1_000_000, 0).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// target builds a target on an upstream that is never called over the
// network (the URL is unroutable on purpose).
func target(name string, weight, priority int, o upstream.Options) *upstream.Target {
	o.Name = name
	o.Kind = upstream.KindOpenAI
	if o.URL == "" {
		o.URL = "http://127.0.0.1:1"
	}
	return &upstream.Target{Upstream: upstream.New(o), Model: "m", Weight: weight, Priority: priority}
}

// fail records n failed requests on t, as the gateway does.
func fail(t *testing.T, tg *upstream.Target, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if !tg.Upstream.Begin() {
			t.Fatalf("%s: Begin refused after %d failures", tg.Upstream.Name(), i)
		}
		tg.Upstream.End(upstream.Failure, 0, errors.New("boom"))
	}
}

// counts picks n times and counts the picks per upstream name.
func counts(p *upstream.Pool, c upstream.Class, n int) map[string]int {
	got := map[string]int{}
	for i := 0; i < n; i++ {
		if t := p.Next(c, nil); t != nil {
			got[t.Upstream.Name()]++
		} else {
			got["<nil>"]++
		}
	}
	return got
}

// run starts u's health and load loop and stops it (waiting for it to
// return) when the test ends or stop is called.
func run(t *testing.T, u *upstream.Upstream) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		u.Run(ctx)
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func TestPoolBackupTierOnlyWhenPrimaryUnavailable(t *testing.T) {
	t.Parallel()
	bo := upstream.BreakerOptions{FailureThreshold: 2, RecoveryTimeout: time.Hour}
	a := target("a", 1, 0, upstream.Options{Breaker: bo})
	b := target("b", 1, 0, upstream.Options{Breaker: bo})
	backup := target("backup", 1, 1, upstream.Options{Breaker: bo})
	// Listed backup first: tiers come from Priority, not order.
	p := upstream.NewPool([]*upstream.Target{backup, a, b}, nil, nil)

	if got := counts(p, upstream.Class{}, 100); got["a"] != 50 || got["b"] != 50 {
		t.Fatalf("healthy primary tier: picks %v, want a and b 50 each", got)
	}
	fail(t, a, 2)
	if got := counts(p, upstream.Class{}, 20); got["b"] != 20 {
		t.Fatalf("one primary left: picks %v, want b only", got)
	}
	// A target already tried does not send the request to the backup tier
	// while another primary target remains.
	if got := p.Next(upstream.Class{}, []*upstream.Target{a}); got != b {
		t.Fatalf("Next with a tried = %v, want b", got.Upstream.Name())
	}
	if got := p.Next(upstream.Class{}, []*upstream.Target{b}); got != backup {
		t.Fatalf("Next with the only available primary tried = %v, want backup", got.Upstream.Name())
	}
	fail(t, b, 2)
	if got := counts(p, upstream.Class{}, 20); got["backup"] != 20 {
		t.Fatalf("primary tier down: picks %v, want backup only", got)
	}
	if !p.Usable() {
		t.Fatal("Usable is false with the backup available")
	}
	fail(t, backup, 2)
	if got := p.Next(upstream.Class{}, nil); got != nil {
		t.Fatalf("every breaker open: Next = %s, want nil", got.Upstream.Name())
	}
	if p.Usable() {
		t.Fatal("Usable is true with every breaker open")
	}
	if n := len(p.Targets()); n != 3 {
		t.Fatalf("Targets lists %d, want 3", n)
	}
}

func TestPoolSkipsOpenBreakerUntilHalfOpenTrial(t *testing.T) {
	t.Parallel()
	clk := newClock()
	bo := upstream.BreakerOptions{FailureThreshold: 5, RecoveryTimeout: time.Second}
	a := target("a", 1, 0, upstream.Options{Breaker: bo, Now: clk.Now})
	b := target("b", 1, 0, upstream.Options{Breaker: bo, Now: clk.Now})
	p := upstream.NewPool([]*upstream.Target{a, b}, nil, nil)

	fail(t, a, 4)
	if a.Upstream.BreakerState() != upstream.BreakerClosed || !a.Upstream.Available() {
		t.Fatal("breaker open after 4 failures; threshold is 5")
	}
	fail(t, a, 1)
	if s := a.Upstream.Status(); s.Breaker != "open" || s.Healthy || s.LastError == "" {
		t.Fatalf("after 5 failures: status %+v, want breaker open, unhealthy, last error set", s)
	}
	if got := counts(p, upstream.Class{}, 50); got["b"] != 50 {
		t.Fatalf("breaker open: picks %v, want b only", got)
	}
	clk.Advance(time.Second)
	if a.Upstream.BreakerState() != upstream.BreakerHalfOpen || !a.Upstream.Available() {
		t.Fatalf("after recovery_timeout: breaker %v, available %v", a.Upstream.BreakerState(), a.Upstream.Available())
	}
	// Exactly one trial: once it is taken, the pool skips a again.
	if !a.Upstream.Begin() {
		t.Fatal("half-open trial refused")
	}
	if got := counts(p, upstream.Class{}, 20); got["b"] != 20 {
		t.Fatalf("trial in flight: picks %v, want b only", got)
	}
	a.Upstream.End(upstream.Success, 10*time.Millisecond, nil)
	if a.Upstream.BreakerState() != upstream.BreakerClosed {
		t.Fatalf("successful trial left breaker %v", a.Upstream.BreakerState())
	}
	if got := counts(p, upstream.Class{}, 20); got["a"] != 10 {
		t.Fatalf("breaker closed again: picks %v, want a back in rotation", got)
	}
}

func TestPoolExcludesTargetsAtMaxConcurrency(t *testing.T) {
	t.Parallel()
	a := target("a", 1, 0, upstream.Options{MaxConcurrency: 2})
	b := target("b", 1, 0, upstream.Options{})
	p := upstream.NewPool([]*upstream.Target{a, b}, upstream.LeastConn{}, nil)
	for i := 0; i < 2; i++ {
		if !a.Upstream.Begin() {
			t.Fatalf("Begin %d refused below the cap", i)
		}
	}
	if a.Upstream.Available() || a.Upstream.Begin() {
		t.Fatal("a accepts a third request with max_concurrency 2")
	}
	if !a.Upstream.Healthy() {
		t.Fatal("a full upstream is not unhealthy")
	}
	// b gets every pick even once it is busier than a: a is full.
	for i := 0; i < 5; i++ {
		b.Upstream.Begin()
	}
	if got := counts(p, upstream.Class{}, 20); got["b"] != 20 {
		t.Fatalf("a full: picks %v, want b only", got)
	}
	a.Upstream.End(upstream.Success, time.Millisecond, nil)
	if got := p.Next(upstream.Class{}, nil); got != a {
		t.Fatal("a slot freed, least_conn should pick a (1 in flight vs 5)")
	}
	if a.Upstream.InFlight() != 1 {
		t.Fatalf("in flight %d after a refused Begin, want 1", a.Upstream.InFlight())
	}
}

// recorder is a Selector that remembers it was asked.
type recorder struct {
	name  string
	calls atomic.Int64
}

func (r *recorder) Select(c []*upstream.Target) *upstream.Target {
	r.calls.Add(1)
	return c[0]
}

func TestPoolRulesPickPolicyByClass(t *testing.T) {
	t.Parallel()
	def, high, long, big := &recorder{name: "default"}, &recorder{name: "high"}, &recorder{name: "long"}, &recorder{name: "big"}
	rules := []upstream.Rule{
		{HighPriority: true, Selector: high},
		{MinMaxTokens: 1024, Selector: long},
		{MinPromptChars: 16000, Selector: big},
	}
	p := upstream.NewPool([]*upstream.Target{target("a", 1, 0, upstream.Options{})}, def, rules)
	tests := []struct {
		name  string
		class upstream.Class
		want  *recorder
	}{
		{"plain request", upstream.Class{MaxTokens: 100, PromptChars: 100}, def},
		{"high priority", upstream.Class{HighPriority: true}, high},
		{"high priority and long: first rule wins", upstream.Class{HighPriority: true, MaxTokens: 4096}, high},
		{"long generation", upstream.Class{MaxTokens: 1024}, long},
		{"just below max_tokens", upstream.Class{MaxTokens: 1023}, def},
		{"long prompt", upstream.Class{PromptChars: 16000}, big},
	}
	for _, tt := range tests {
		before := map[*recorder]int64{}
		for _, r := range []*recorder{def, high, long, big} {
			before[r] = r.calls.Load()
		}
		p.Next(tt.class, nil)
		for _, r := range []*recorder{def, high, long, big} {
			d := r.calls.Load() - before[r]
			if want := int64(0); r == tt.want {
				want = 1
				if d != want {
					t.Errorf("%s: %s policy called %d times, want 1", tt.name, r.name, d)
				}
			} else if d != want {
				t.Errorf("%s: %s policy called, want only %s", tt.name, r.name, tt.want.name)
			}
		}
	}
}

func TestDefaultRules(t *testing.T) {
	t.Parallel()
	a := target("a", 5, 0, upstream.Options{})
	b := target("b", 1, 0, upstream.Options{})
	c := target("c", 1, 0, upstream.Options{})
	p := upstream.NewPool([]*upstream.Target{a, b, c}, nil, upstream.DefaultRules())
	// High priority: weighted round robin, 5:1:1.
	if got := counts(p, upstream.Class{HighPriority: true}, 70); got["a"] != 50 || got["b"] != 10 || got["c"] != 10 {
		t.Errorf("high priority picks %v, want weighted 50/10/10", got)
	}
	// Long generation: least connections (weighted): b is idle.
	a.Upstream.Begin()
	c.Upstream.Begin()
	if got := counts(p, upstream.Class{MaxTokens: 2048}, 20); got["b"] != 20 {
		t.Errorf("long generation picks %v, want the idle b", got)
	}
	// Everything else: round robin, weights ignored.
	if got := counts(p, upstream.Class{MaxTokens: 16}, 30); got["a"] != 10 || got["b"] != 10 || got["c"] != 10 {
		t.Errorf("default picks %v, want round robin 10/10/10", got)
	}
}

func TestPoolSkipsTargetFailingActiveHealthChecks(t *testing.T) {
	t.Parallel()
	var healthy atomic.Bool
	var probes atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probes.Add(1)
		if r.URL.Path != "/health" || !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(hs.Close)
	hc := upstream.HealthCheck{Path: "/health", Interval: 10 * time.Millisecond, Timeout: time.Second,
		HealthyThreshold: 2, UnhealthyThreshold: 3}
	a := target("a", 1, 0, upstream.Options{URL: hs.URL, Health: hc})
	b := target("b", 1, 0, upstream.Options{})
	p := upstream.NewPool([]*upstream.Target{a, b}, nil, nil)
	run(t, a.Upstream)

	testkit.Eventually(t, 5*time.Second, "a to fail its health checks", func() bool { return !a.Upstream.Available() })
	if n := probes.Load(); n < 3 {
		t.Fatalf("down after %d probes; unhealthy_threshold is 3", n)
	}
	if s := a.Upstream.Status(); s.ActiveHealthy || s.Breaker != "closed" {
		t.Fatalf("status %+v: want active_healthy false with the breaker closed", s)
	}
	if got := counts(p, upstream.Class{}, 20); got["b"] != 20 {
		t.Fatalf("a down: picks %v, want b only", got)
	}
	healthy.Store(true)
	testkit.Eventually(t, 5*time.Second, "a to pass its health checks again", a.Upstream.Available)
	if got := counts(p, upstream.Class{}, 20); got["a"] != 10 {
		t.Fatalf("a back: picks %v, want a in rotation", got)
	}
}
