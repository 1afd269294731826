package upstream_test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
	"github.com/dsgate/dsgate/internal/upstream"
)

// three returns targets a, b, c with the given weights, all in tier 0.
func three(wa, wb, wc int, o upstream.Options) []*upstream.Target {
	return []*upstream.Target{target("a", wa, 0, o), target("b", wb, 0, o), target("c", wc, 0, o)}
}

func names(ts []*upstream.Target) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.Upstream.Name())
	}
	return b.String()
}

// pick calls s.Select n times over cands and returns the picks in order.
func pick(s upstream.Selector, cands []*upstream.Target, n int) []*upstream.Target {
	out := make([]*upstream.Target, n)
	for i := range out {
		out[i] = s.Select(cands)
	}
	return out
}

func tally(ts []*upstream.Target) map[string]int {
	m := map[string]int{}
	for _, t := range ts {
		m[t.Upstream.Name()]++
	}
	return m
}

// chiSquare is Pearson's statistic of observed counts against expected
// shares.
func chiSquare(got map[string]int, want map[string]float64, n int) float64 {
	var x float64
	for k, share := range want {
		e := share * float64(n)
		d := float64(got[k]) - e
		x += d * d / e
	}
	return x
}

func TestNewSelector(t *testing.T) {
	t.Parallel()
	for _, name := range append([]string{""}, upstream.Policies...) {
		s, err := upstream.NewSelector(name)
		if err != nil || s == nil {
			t.Errorf("NewSelector(%q) = %v, %v", name, s, err)
		}
	}
	if _, err := upstream.NewSelector("fastest"); err == nil {
		t.Error("NewSelector accepted an unknown policy")
	}
	// Stateful policies must not share state between pools.
	a, _ := upstream.NewSelector("round_robin")
	b, _ := upstream.NewSelector("round_robin")
	if a == b {
		t.Error("NewSelector returned the same round robin twice")
	}
}

func TestRoundRobinIsEven(t *testing.T) {
	t.Parallel()
	ts := three(5, 1, 1, upstream.Options{}) // weights are ignored
	got := pick(&upstream.RoundRobin{}, ts, 300)
	if s := names(got[:9]); s != "abcabcabc" {
		t.Errorf("sequence %s, want abcabcabc", s)
	}
	if m := tally(got); m["a"] != 100 || m["b"] != 100 || m["c"] != 100 {
		t.Errorf("300 picks: %v, want 100 each", m)
	}
}

func TestRoundRobinConcurrent(t *testing.T) {
	t.Parallel()
	ts := three(1, 1, 1, upstream.Options{})
	rr := &upstream.RoundRobin{}
	var a, b, c atomic.Int64
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 300; i++ {
				switch rr.Select(ts).Upstream.Name() {
				case "a":
					a.Add(1)
				case "b":
					b.Add(1)
				case "c":
					c.Add(1)
				}
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	if a.Load() != 400 || b.Load() != 400 || c.Load() != 400 {
		t.Errorf("1200 concurrent picks: a %d b %d c %d, want 400 each", a.Load(), b.Load(), c.Load())
	}
}

func TestWeightedRoundRobinIsSmooth(t *testing.T) {
	t.Parallel()
	ts := three(5, 1, 1, upstream.Options{})
	got := pick(&upstream.WeightedRoundRobin{}, ts, 700)
	// nginx's smooth weighted round robin (ngx_http_upstream_get_peer).
	want := strings.Repeat("aabacaa", 100)
	if s := names(got); s != want {
		t.Errorf("sequence starts %s, want %s…", s[:21], want[:21])
	}
	if m := tally(got); m["a"] != 500 || m["b"] != 100 || m["c"] != 100 {
		t.Errorf("700 picks: %v, want 500/100/100", m)
	}
}

func TestWeightedRoundRobinAdaptsToCandidateSet(t *testing.T) {
	t.Parallel()
	ts := three(2, 1, 1, upstream.Options{})
	w := &upstream.WeightedRoundRobin{}
	pick(w, ts, 5) // leave some state behind
	// c drops out (its breaker opened): a and b share 2:1.
	if m := tally(pick(w, ts[:2], 300)); m["a"] < 195 || m["a"] > 205 || m["b"] < 95 || m["b"] > 105 {
		t.Errorf("after c left: %v, want about 200/100", m)
	}
	// And when it is back, 2:1:1 again.
	if m := tally(pick(w, ts, 400)); m["a"] < 195 || m["a"] > 205 || m["c"] < 95 || m["c"] > 105 {
		t.Errorf("after c came back: %v, want about 200/100/100", m)
	}
}

func TestLeastConnPrefersFewerInFlight(t *testing.T) {
	t.Parallel()
	ts := three(1, 1, 1, upstream.Options{})
	a, b, c := ts[0].Upstream, ts[1].Upstream, ts[2].Upstream
	for _, u := range []*upstream.Upstream{a, a, c} {
		u.Begin()
	}
	if m := tally(pick(upstream.LeastConn{}, ts, 50)); m["b"] != 50 {
		t.Errorf("in flight a=2 b=0 c=1: %v, want b only", m)
	}
	b.Begin()
	b.Begin()
	if m := tally(pick(upstream.LeastConn{}, ts, 50)); m["c"] != 50 {
		t.Errorf("in flight a=2 b=2 c=1: %v, want c only", m)
	}
	// As a gateway uses it: each pick takes a slot, so picks spread to keep
	// the counts level.
	for i := 0; i < 30; i++ {
		upstream.LeastConn{}.Select(ts).Upstream.Begin()
	}
	lo := min(a.InFlight(), b.InFlight(), c.InFlight())
	hi := max(a.InFlight(), b.InFlight(), c.InFlight())
	if a.InFlight()+b.InFlight()+c.InFlight() != 35 || hi-lo > 1 {
		t.Errorf("after 30 more picks with Begin: in flight a=%d b=%d c=%d, want level (11 or 12 each)",
			a.InFlight(), b.InFlight(), c.InFlight())
	}
}

func TestLeastConnWeighsInFlightByWeight(t *testing.T) {
	t.Parallel()
	ts := three(4, 1, 1, upstream.Options{})
	for i := 0; i < 3; i++ {
		ts[0].Upstream.Begin() // 3/4 per unit of weight
	}
	ts[1].Upstream.Begin() // 1/1
	ts[2].Upstream.Begin() // 1/1
	if m := tally(pick(upstream.LeastConn{}, ts, 20)); m["a"] != 20 {
		t.Errorf("%v: want a, the least loaded per unit of weight", m)
	}
}

func TestLeastConnBreaksTiesRandomly(t *testing.T) {
	t.Parallel()
	ts := three(1, 1, 1, upstream.Options{})
	const n = 30000
	m := tally(pick(upstream.LeastConn{}, ts, n))
	// Chi-square with 2 degrees of freedom: 40 has p < 1e-8.
	if x := chiSquare(m, map[string]float64{"a": 1. / 3, "b": 1. / 3, "c": 1. / 3}, n); x > 40 {
		t.Errorf("all idle, %d picks: %v (chi-square %.1f); ties should go to a random target", n, m, x)
	}
	// Two tied at the minimum: the third never, the two about half each
	// (binomial sd 50, so 4000 is 20 sd away).
	ts[2].Upstream.Begin()
	m = tally(pick(upstream.LeastConn{}, ts, 10000))
	if m["c"] != 0 || m["a"] < 4000 || m["b"] < 4000 {
		t.Errorf("a and b tied below c: %v, want a and b about 5000 each, c none", m)
	}
}

// metricsServer serves a vLLM-style /metrics page whose gauges the test sets.
type metricsServer struct {
	page atomic.Pointer[string]
	url  string
}

func newMetricsServer(t *testing.T, running, waiting, kv float64) *metricsServer {
	t.Helper()
	ms := &metricsServer{}
	ms.set(running, waiting, kv)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprint(w, *ms.page.Load())
	}))
	t.Cleanup(hs.Close)
	ms.url = hs.URL
	return ms
}

func (ms *metricsServer) set(running, waiting, kv float64) {
	p := fmt.Sprintf(`# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="m"} %g
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="m"} %g
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{model_name="m"} %g
`, running, waiting, kv)
	ms.page.Store(&p)
}

// scraped runs u's scrape loop until it has read a load sample equal to
// running+waiting, then stops it, so nothing changes the sample behind the
// test's back.
func scraped(t *testing.T, u *upstream.Upstream, running, waiting float64) {
	t.Helper()
	stop := run(t, u)
	testkit.Eventually(t, 5*time.Second, u.Name()+" to scrape its metrics", func() bool {
		l := u.Status().Load
		return l != nil && l.Running == running && l.Waiting == waiting
	})
	stop()
}

func TestLeastLoadUsesScrapedEngineLoad(t *testing.T) {
	t.Parallel()
	clk := newClock()
	const interval = 50 * time.Millisecond
	pages := []struct{ running, waiting, kv float64 }{
		{8, 4, 0.5}, // a: queue 12 * 1.5 = 18
		{2, 0, 0.1}, // b: 2 * 1.1 = 2.2
		{3, 1, 0},   // c: 4
	}
	var ts []*upstream.Target
	for i, pg := range pages {
		ms := newMetricsServer(t, pg.running, pg.waiting, pg.kv)
		tg := target(string(rune('a'+i)), 1, 0, upstream.Options{
			URL: ms.url, MetricsPath: "/metrics", MetricsInterval: interval, Now: clk.Now,
		})
		scraped(t, tg.Upstream, pg.running, pg.waiting)
		ts = append(ts, tg)
	}
	a, b, c := ts[0].Upstream, ts[1].Upstream, ts[2].Upstream
	// The gateway's own in-flight counts say the opposite, so a pick of b
	// shows the scraped load was used.
	for i := 0; i < 5; i++ {
		b.Begin()
	}
	if got := b.LoadScore(); math.Abs(got-(2+5)*1.1) > 1e-9 {
		t.Fatalf("b LoadScore %v, want (2 running + 5 sent since the scrape) * 1.1", got)
	}
	for i := 0; i < 5; i++ {
		b.End(upstream.Success, time.Millisecond, nil)
	}
	if m := tally(pick(upstream.LeastLoad{}, ts, 30)); m["b"] != 30 {
		t.Errorf("scraped queues a=18 b=2.2 c=4: %v, want b only", m)
	}
	// Requests this gateway sent since the scrape count on top of it.
	for i := 0; i < 3; i++ {
		b.Begin()
	}
	if m := tally(pick(upstream.LeastLoad{}, ts, 30)); m["c"] != 30 {
		t.Errorf("b got 3 more since its scrape (score 5.5): %v, want c", m)
	}
	// c reports no KV-cache pressure: its score is its queue.
	if got, want := c.LoadScore(), 4.0; got != want {
		t.Fatalf("c LoadScore %v, want %v", got, want)
	}

	// Samples older than three intervals are stale: the in-flight counts
	// decide (a 0, b 3, c 1).
	c.Begin()
	clk.Advance(3*interval + time.Millisecond)
	if got := a.LoadScore(); got != 0 {
		t.Errorf("a LoadScore with a stale sample = %v, want its in-flight count 0", got)
	}
	if m := tally(pick(upstream.LeastLoad{}, ts, 30)); m["a"] != 30 {
		t.Errorf("stale samples, in flight a=0 b=3 c=1: %v, want a only", m)
	}
}

func TestLeastLoadWithoutMetricsIsLeastConn(t *testing.T) {
	t.Parallel()
	ts := three(1, 1, 1, upstream.Options{})
	ts[0].Upstream.Begin()
	ts[2].Upstream.Begin()
	if m := tally(pick(upstream.LeastLoad{}, ts, 20)); m["b"] != 20 {
		t.Errorf("no metrics, in flight a=1 b=0 c=1: %v, want b", m)
	}
	ts[1].Upstream.Begin()
	m := tally(pick(upstream.LeastLoad{}, ts, 9000))
	if x := chiSquare(m, map[string]float64{"a": 1. / 3, "b": 1. / 3, "c": 1. / 3}, 9000); x > 40 {
		t.Errorf("all tied: %v (chi-square %.1f), want a random spread", m, x)
	}
}

// observe records n successful requests of latency d on u.
func observe(u *upstream.Upstream, d time.Duration, n int) {
	for i := 0; i < n; i++ {
		u.Begin()
		u.End(upstream.Success, d, nil)
	}
}

func TestEWMAPrefersFasterTarget(t *testing.T) {
	t.Parallel()
	clk := newClock()
	ts := []*upstream.Target{target("fast", 1, 0, upstream.Options{Now: clk.Now}), target("slow", 1, 0, upstream.Options{Now: clk.Now})}
	fast, slow := ts[0].Upstream, ts[1].Upstream
	observe(fast, 20*time.Millisecond, 5)
	observe(slow, 200*time.Millisecond, 5)
	if fast.Latency() != 20*time.Millisecond || slow.Latency() != 200*time.Millisecond {
		t.Fatalf("latency fast %v slow %v", fast.Latency(), slow.Latency())
	}
	if m := tally(pick(upstream.EWMA{}, ts, 200)); m["fast"] != 200 {
		t.Errorf("idle pool: %v, want fast only", m)
	}
	// Load counts: with 10 in flight the fast one costs 20ms*11 > 200ms.
	for i := 0; i < 10; i++ {
		fast.Begin()
	}
	if m := tally(pick(upstream.EWMA{}, ts, 200)); m["slow"] != 200 {
		t.Errorf("fast one busy (10 in flight): %v, want slow", m)
	}
}

func TestEWMAPeakReactsAtOnceAndDecays(t *testing.T) {
	t.Parallel()
	clk := newClock()
	u := target("a", 1, 0, upstream.Options{Now: clk.Now}).Upstream
	if u.Latency() != 0 {
		t.Fatalf("latency %v before any success", u.Latency())
	}
	observe(u, 10*time.Millisecond, 1)
	observe(u, 500*time.Millisecond, 1)
	if u.Latency() != 500*time.Millisecond {
		t.Fatalf("after a slow answer: %v, want the peak 500ms at once", u.Latency())
	}
	clk.Advance(10 * time.Second) // one time constant
	observe(u, 10*time.Millisecond, 1)
	// 500*e^-1 + 10*(1-e^-1) ≈ 190ms.
	if got := u.Latency(); got < 180*time.Millisecond || got > 200*time.Millisecond {
		t.Fatalf("after one tau of fast answers: %v, want about 190ms", got)
	}
	// Failures do not feed the estimate.
	u.Begin()
	u.End(upstream.Failure, time.Hour, nil)
	if got := u.Latency(); got > 200*time.Millisecond {
		t.Fatalf("a failure moved the latency estimate to %v", got)
	}
}

func TestEWMAExploresNewTargets(t *testing.T) {
	t.Parallel()
	clk := newClock()
	ts := three(1, 1, 1, upstream.Options{Now: clk.Now})
	observe(ts[0].Upstream, 20*time.Millisecond, 3)
	observe(ts[1].Upstream, 30*time.Millisecond, 3)
	// c has no latency yet: it costs nothing and wins every pair it is in
	// (two of the three pairs).
	m := tally(pick(upstream.EWMA{}, ts, 9000))
	if m["c"] < 5600 || m["c"] > 6400 {
		t.Errorf("unmeasured c: %v, want about 6000 of 9000", m)
	}
	// Power of two choices: the middle target still wins the pairs without
	// the best one, a third of the picks.
	observe(ts[2].Upstream, 200*time.Millisecond, 1)
	m = tally(pick(upstream.EWMA{}, ts, 9000))
	if m["a"] < 5600 || m["b"] < 2600 || m["b"] > 3400 || m["c"] != 0 {
		t.Errorf("latencies 20/30/200ms: %v, want about 6000/3000/0", m)
	}
}

// TestEWMAExploresSlowTargetAgain checks that a target that was slow once
// is not shunned for ever while the pool is idle: without fresh samples
// its estimate must age (tower's peak_ewma, used by linkerd2-proxy,
// decays the estimate towards zero whenever the load is read), so it gets
// a request again and its latency is measured anew.
func TestEWMAExploresSlowTargetAgain(t *testing.T) {
	t.Parallel()
	clk := newClock()
	ts := []*upstream.Target{target("fast", 1, 0, upstream.Options{Now: clk.Now}), target("slow", 1, 0, upstream.Options{Now: clk.Now})}
	observe(ts[1].Upstream, 200*time.Millisecond, 1) // one slow answer, e.g. a cold start
	observe(ts[0].Upstream, 20*time.Millisecond, 1)
	// Serve one request a second for five minutes (30 time constants), as
	// a gateway at low load would, feeding the latencies back.
	e := upstream.EWMA{}
	for i := 0; i < 300; i++ {
		clk.Advance(time.Second)
		tg := e.Select(ts)
		if tg.Upstream.Name() == "slow" {
			return
		}
		observe(tg.Upstream, 20*time.Millisecond, 1)
	}
	t.Errorf("slow target never picked again in 300 idle-pool requests over 5 minutes; its estimate is still %v "+
		"(a peak EWMA that only changes on new samples never re-measures a target that was slow once)",
		ts[1].Upstream.Latency())
}

func TestRandomIsRoughlyUniform(t *testing.T) {
	t.Parallel()
	ts := three(5, 1, 1, upstream.Options{}) // weights are ignored
	const n = 30000
	m := tally(pick(upstream.Random{}, ts, n))
	// Chi-square, 2 degrees of freedom: P(X > 40) = e^-20 ≈ 2e-9.
	if x := chiSquare(m, map[string]float64{"a": 1. / 3, "b": 1. / 3, "c": 1. / 3}, n); x > 40 {
		t.Errorf("%d picks: %v (chi-square %.1f), want uniform", n, m, x)
	}
	// Not a disguised round robin.
	seq := names(pick(upstream.Random{}, ts, 60))
	if strings.Count(seq, "abc") == 20 {
		t.Errorf("random picks cycle: %s", seq)
	}
}

func TestSelectorsSingleCandidate(t *testing.T) {
	t.Parallel()
	one := []*upstream.Target{target("only", 1, 0, upstream.Options{})}
	for _, name := range upstream.Policies {
		s, _ := upstream.NewSelector(name)
		for i := 0; i < 5; i++ {
			if got := s.Select(one); got != one[0] {
				t.Errorf("%s: picked %v from one candidate", name, got)
			}
		}
	}
}
