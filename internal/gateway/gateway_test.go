package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

// fake is an httptest upstream that answers with a script and remembers
// each request it got.
type fake struct {
	name   string
	srv    *httptest.Server
	mu     sync.Mutex
	hits   []hit
	handle func(w http.ResponseWriter, r *http.Request, n int) // n: 0-based hit number
}

type hit struct {
	id string // X-Request-Id
}

func newFake(t *testing.T, name string, handle func(w http.ResponseWriter, r *http.Request, n int)) *fake {
	t.Helper()
	f := &fake{name: name, handle: handle}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		n, h := len(f.hits), f.handle
		f.hits = append(f.hits, hit{id: r.Header.Get("X-Request-Id")})
		f.mu.Unlock()
		h(w, r, n)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) setHandle(h func(w http.ResponseWriter, r *http.Request, n int)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handle = h
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.hits)
}

// hitsFor counts requests carrying request id id.
func (f *fake) hitsFor(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, h := range f.hits {
		if h.id == id {
			n++
		}
	}
	return n
}

// Scripts for fake upstreams.

func ok(w http.ResponseWriter, r *http.Request, _ int) {
	var req struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream"`
	}
	json.NewDecoder(r.Body).Decode(&req)
	if req.Stream {
		streamChunks(w, req.Model, `{"role":"assistant","content":"hel"}`, `{"content":"lo"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","created":1,"model":%q,`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`, req.Model)
}

func streamChunks(w http.ResponseWriter, model string, deltas ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	for _, d := range deltas {
		fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":%q,\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":null}]}\n\n", model, d)
	}
	fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":%q,\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n", model)
	fmt.Fprint(w, "data: [DONE]\n\n")
}

func status(code int, msg string) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"error":{"message":%q,"type":"server_error","code":null}}`, msg)
	}
}

// up builds an upstream for a fake. Breakers never open unless the test
// sets a threshold: most tests are about the retry loop alone.
func up(name, url string, mod ...func(*upstream.Options)) *upstream.Upstream {
	o := upstream.Options{
		Name: name, Kind: upstream.KindOpenAI, URL: url,
		FirstTokenTimeout: 2 * time.Second, IdleTimeout: 2 * time.Second,
		Breaker: upstream.BreakerOptions{FailureThreshold: 1 << 30},
	}
	for _, m := range mod {
		m(&o)
	}
	return upstream.New(o)
}

// deadURL is an address nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// route builds a route serving model name from upstreams, tier by tier
// when priorities are given.
func route(name string, sel upstream.Selector, ups ...*upstream.Upstream) gateway.Route {
	var ts []*upstream.Target
	for _, u := range ups {
		ts = append(ts, &upstream.Target{Upstream: u, Model: name, Weight: 1})
	}
	return gateway.Route{Name: name, Pool: upstream.NewPool(ts, sel, nil)}
}

// tiered builds a route whose upstreams are tried strictly in order (each
// its own priority tier).
func tiered(name string, ups ...*upstream.Upstream) gateway.Route {
	var ts []*upstream.Target
	for i, u := range ups {
		ts = append(ts, &upstream.Target{Upstream: u, Model: name, Weight: 1, Priority: i})
	}
	return gateway.Route{Name: name, Pool: upstream.NewPool(ts, nil, nil)}
}

func newGateway(o gateway.Options) *gateway.Gateway {
	if o.RetryBackoff == 0 {
		o.RetryBackoff = time.Millisecond
	}
	return gateway.New(o)
}

func call(t *testing.T, e openai.Endpoint, id, body string) *gateway.Call {
	t.Helper()
	req, err := openai.Parse(e, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return &gateway.Call{Req: req, Body: []byte(body), RequestID: id}
}

func chat(t *testing.T, id, model string) *gateway.Call {
	return call(t, openai.EndpointChat, id, `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}],"max_tokens":8}`)
}

func chatStream(t *testing.T, id, model string) *gateway.Call {
	return call(t, openai.EndpointChat, id, `{"model":"`+model+`","stream":true,"messages":[{"role":"user","content":"hi"}],"max_tokens":8}`)
}

// sink collects a stream.
type sink struct {
	mu     sync.Mutex
	events []string
}

func (s *sink) Comment([]byte) error { return nil }
func (s *sink) Data(p []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, string(p))
	return nil
}

func (s *sink) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.events, "\n")
}

func TestRetryGoesToAnotherTarget(t *testing.T) {
	t.Parallel()
	a := newFake(t, "a", status(503, "overloaded"))
	b := newFake(t, "b", status(500, "broken"))
	c := newFake(t, "c", ok)
	dead := up("dead", deadURL(t))
	g := newGateway(gateway.Options{
		MaxAttempts: 4,
		Routes: []gateway.Route{route("m", &upstream.RoundRobin{},
			up("a", a.srv.URL), up("b", b.srv.URL), dead, up("c", c.srv.URL))},
	})
	for i := 0; i < 12; i++ {
		id := fmt.Sprint("req-", i)
		res, err := g.Complete(context.Background(), chat(t, id, "m"))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if res.Upstream != "c" || !strings.Contains(string(res.Body), `"hello"`) {
			t.Fatalf("%s: answered by %q: %s", id, res.Upstream, res.Body)
		}
		for _, f := range []*fake{a, b, c} {
			if n := f.hitsFor(id); n > 1 {
				t.Errorf("%s: %s tried %d times; a retry must go to another target", id, f.name, n)
			}
		}
		if want := 1 + a.hitsFor(id) + b.hitsFor(id); res.Attempts > want+1 || res.Attempts < want {
			t.Errorf("%s: %d attempts, but a, b, c saw %d (plus at most the dead one)", id, res.Attempts, want)
		}
	}
	// Round robin starts each request on a different target, so each of
	// the failing ones was tried first at some point.
	if a.count() == 0 || b.count() == 0 {
		t.Errorf("a saw %d, b saw %d requests; the test proves nothing", a.count(), b.count())
	}
}

func TestClientErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	a := newFake(t, "a", func(w http.ResponseWriter, _ *http.Request, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		fmt.Fprint(w, `{"error":{"message":"max_tokens is too large","type":"invalid_request_error","param":"max_tokens","code":"invalid_value"}}`)
	})
	b := newFake(t, "b", ok)
	ua := up("a", a.srv.URL, func(o *upstream.Options) { o.Breaker.FailureThreshold = 2 })
	g := newGateway(gateway.Options{Routes: []gateway.Route{tiered("m", ua, up("b", b.srv.URL))}})
	for i := 0; i < 5; i++ {
		res, err := g.Complete(context.Background(), chat(t, fmt.Sprint(i), "m"))
		var ue *upstream.Error
		if !errors.As(err, &ue) || ue.StatusCode != 400 || ue.Retryable || ue.API == nil || ue.API.Message != "max_tokens is too large" {
			t.Fatalf("err = %v (%#v), res %v; want the upstream's 400", err, ue, res)
		}
	}
	if b.count() != 0 {
		t.Errorf("a 400 was retried on b %d times; it is about the request, not the upstream", b.count())
	}
	// And it says nothing bad about a's health.
	if s := ua.Status(); s.Breaker != "closed" || !s.Healthy {
		t.Errorf("after five 400s a's status is %+v; a 4xx is an answer, not a failure", s)
	}
}

// failingPair is a route whose first tier always fails with 503 and whose
// backup answers, so every request needs exactly one retry to succeed.
func failingPair(t *testing.T) (gateway.Route, *fake, *fake) {
	a := newFake(t, "a", status(503, "overloaded"))
	b := newFake(t, "b", ok)
	return tiered("m", up("a", a.srv.URL), up("b", b.srv.URL)), a, b
}

// TestRetryBudgetZeroAllowsNoRetry: a budget with ratio 0 and no minimum
// rate (RetryBudget's doc: each request deposits Ratio tokens, each retry
// withdraws one) must never allow a retry.
func TestRetryBudgetZeroAllowsNoRetry(t *testing.T) {
	t.Parallel()
	clk := time.Unix(1_000_000, 0)
	r, a, b := failingPair(t)
	g := newGateway(gateway.Options{
		Routes:      []gateway.Route{r},
		RetryBudget: gateway.NewRetryBudget(0, 0, func() time.Time { return clk }),
	})
	failed := 0
	for i := 0; i < 20; i++ {
		_, err := g.Complete(context.Background(), chat(t, fmt.Sprint(i), "m"))
		var ex *gateway.ExhaustedError
		if errors.As(err, &ex) && strings.Contains(err.Error(), "retry budget exhausted") {
			failed++
		}
	}
	if a.count() != 20 {
		t.Fatalf("a saw %d requests, want 20", a.count())
	}
	if b.count() != 0 || failed != 20 {
		t.Errorf("budget 0, min 0: %d of 20 requests retried on b (%d refused); want none retried", b.count(), failed)
	}
}

// TestRetryBudgetBoundsAmplification: with ratio 0.2 and no minimum rate,
// once the budget's starting reserve is used, only one request in five
// gets a retry, so a failing tier cannot multiply the load.
func TestRetryBudgetBoundsAmplification(t *testing.T) {
	t.Parallel()
	clk := time.Unix(1_000_000, 0) // frozen: no time-based refill
	r, a, b := failingPair(t)
	g := newGateway(gateway.Options{
		Routes:      []gateway.Route{r},
		RetryBudget: gateway.NewRetryBudget(0.2, 0, func() time.Time { return clk }),
	})
	const n = 200
	succeeded := 0
	for i := 0; i < n; i++ {
		if _, err := g.Complete(context.Background(), chat(t, fmt.Sprint(i), "m")); err == nil {
			succeeded++
		} else if !strings.Contains(err.Error(), "retry budget exhausted") {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	// No time passes, so no min-rate refill and no starting reserve
	// (min 0): 0.2 per request, with 10 of slack for any reserve.
	if a.count() != n || b.count() > 10+n/5 || b.count() < n/5-5 || succeeded != b.count() {
		t.Errorf("%d requests: a %d, b %d (retries), %d succeeded; want retries between %d and %d",
			n, a.count(), b.count(), succeeded, n/5-5, 10+n/5)
	}
	t.Logf("%d requests, %d retries allowed", n, b.count())
}

func TestRetryBudgetRefillsAtMinRate(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	clk := time.Unix(1_000_000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clk }
	advance := func(d time.Duration) { mu.Lock(); clk = clk.Add(d); mu.Unlock() }
	drain := func(b *gateway.RetryBudget) (n int) {
		for b.Withdraw() {
			n++
		}
		return n
	}
	bud := gateway.NewRetryBudget(0, 2, now)
	if n := drain(bud); n != 2 {
		t.Fatalf("starting reserve %d, want one second of the min rate 2/s", n)
	}
	advance(1500 * time.Millisecond)
	if n := drain(bud); n != 3 {
		t.Errorf("after 1.5 s at 2/s: %d retries, want 3", n)
	}
	advance(time.Hour)
	if n := drain(bud); n != 20 {
		t.Errorf("after an idle hour: %d retries, want the cap of 10 s at the min rate (20)", n)
	}
}

func TestRetryAfterHonouredOnSameUpstream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter string
		maxWait    time.Duration
		want       time.Duration
	}{
		{"retry-after below the cap", "0.3", 2 * time.Second, 300 * time.Millisecond},
		{"retry-after capped by max_retry_wait", "30", 200 * time.Millisecond, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, "only", func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 0 {
					w.Header().Set("Retry-After", tt.retryAfter)
					status(429, "slow down")(w, r, n)
					return
				}
				ok(w, r, n)
			})
			var waits []time.Duration // the gateway's back-offs, recorded instead of slept
			g := newGateway(gateway.Options{
				MaxAttempts:  3,
				MaxRetryWait: tt.maxWait,
				Routes:       []gateway.Route{route("m", nil, up("only", f.srv.URL))},
				Wait:         func(_ context.Context, d time.Duration) bool { waits = append(waits, d); return true },
			})
			res, err := g.Complete(context.Background(), chat(t, "r", "m"))
			if err != nil {
				t.Fatal(err)
			}
			if f.count() != 2 || res.Attempts != 2 {
				t.Fatalf("%d requests, %d attempts; want the single upstream tried twice", f.count(), res.Attempts)
			}
			// The jittered back-off is at most RetryBackoff (1ms here), so
			// the wait is Retry-After, capped by max_retry_wait.
			if len(waits) != 1 || waits[0] != tt.want {
				t.Errorf("waited %v; want one wait of %v (Retry-After %s, max wait %v)",
					waits, tt.want, tt.retryAfter, tt.maxWait)
			}
		})
	}
}

func TestRetryAfterIgnoredForAnotherUpstream(t *testing.T) {
	t.Parallel()
	a := newFake(t, "a", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "5")
		status(429, "slow down")(w, r, n)
	})
	b := newFake(t, "b", ok)
	g := newGateway(gateway.Options{MaxRetryWait: time.Minute, Routes: []gateway.Route{tiered("m", up("a", a.srv.URL), up("b", b.srv.URL))}})
	// A deadline shorter than a's Retry-After: a gateway that stretched the
	// wait before b to a's 5 s would find it cannot fit and give up, so
	// only a retry on b without that wait succeeds.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	res, err := g.Complete(ctx, chat(t, "r", "m"))
	if err != nil || res.Upstream != "b" {
		t.Fatalf("res %+v, err %v: a's Retry-After held up a retry on b", res, err)
	}
}

func TestRetryBackoffRespectsDeadline(t *testing.T) {
	t.Parallel()
	f := newFake(t, "only", func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("Retry-After", "60")
		status(429, "slow down")(w, r, n)
	})
	g := newGateway(gateway.Options{MaxRetryWait: time.Minute, Routes: []gateway.Route{route("m", nil, up("only", f.srv.URL))}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := g.Complete(ctx, chat(t, "r", "m"))
	if err == nil {
		t.Fatal("succeeded against an upstream that always answers 429")
	}
	// Returning before the deadline (rather than timing the call) shows it
	// did not sleep towards a retry the deadline could not fit.
	if ctx.Err() != nil {
		t.Errorf("returned at the deadline (%v): it waited for a retry the deadline could not fit", ctx.Err())
	}
	if f.count() != 1 {
		t.Errorf("%d requests; the 60 s Retry-After does not fit the 30 s deadline", f.count())
	}
}

// fallbackChain builds m1 -> m2 -> m3, each served by one fake.
func fallbackChain(t *testing.T, third func(http.ResponseWriter, *http.Request, int)) (*gateway.Gateway, []*fake) {
	t.Helper()
	fa := newFake(t, "a", status(500, "a is down"))
	fb := newFake(t, "b", status(503, "b is overloaded"))
	fc := newFake(t, "c", third)
	m1 := route("m1", nil, up("a", fa.srv.URL))
	m1.Fallbacks = []string{"m2", "m3"}
	g := newGateway(gateway.Options{
		MaxAttempts: 3,
		Routes:      []gateway.Route{m1, route("m2", nil, up("b", fb.srv.URL)), route("m3", nil, up("c", fc.srv.URL))},
	})
	return g, []*fake{fa, fb, fc}
}

func TestModelFallbacksChain(t *testing.T) {
	t.Parallel()
	g, fakes := fallbackChain(t, ok)
	res, err := g.Complete(context.Background(), chat(t, "r", "m1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Model != "m3" || res.Upstream != "c" || res.Attempts != 3 {
		t.Errorf("answered by model %q via %q after %d attempts; want m3 via c after 3", res.Model, res.Upstream, res.Attempts)
	}
	// The client asked for m1 and sees m1.
	var body struct{ Model string }
	json.Unmarshal(res.Body, &body)
	if body.Model != "m1" {
		t.Errorf("response model %q, want the requested m1", body.Model)
	}
	for _, f := range fakes {
		if f.count() != 1 {
			t.Errorf("%s saw %d requests, want 1", f.name, f.count())
		}
	}
}

func TestModelFallbacksExhaustedListsEachStep(t *testing.T) {
	t.Parallel()
	g, _ := fallbackChain(t, status(500, "c is down"))
	_, err := g.Complete(context.Background(), chat(t, "r", "m1"))
	var ex *gateway.ExhaustedError
	if !errors.As(err, &ex) {
		t.Fatalf("err = %v, want *ExhaustedError", err)
	}
	// The upstreams' own messages stay in the logs: they may carry an
	// engine's internals (issue 13, "upstream error bodies").
	want := "all upstreams failed: m1 via a: HTTP 500 Internal Server Error; m2 via b: HTTP 503 Service Unavailable; m3 via c: HTTP 500 Internal Server Error"
	if err.Error() != want {
		t.Errorf("message\n got %s\nwant %s", err.Error(), want)
	}
	if ex.AllRateLimited() {
		t.Error("AllRateLimited for 500/503 failures")
	}
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.Upstream != "c" || ue.StatusCode != 500 {
		t.Errorf("unwraps to %v, want c's 500", ue)
	}
}

func TestModelFallbackWithNoAvailableTarget(t *testing.T) {
	t.Parallel()
	fa := newFake(t, "a", status(500, "a is down"))
	fc := newFake(t, "c", ok)
	clk := time.Unix(1_000_000, 0)
	ub := up("b", deadURL(t), func(o *upstream.Options) {
		o.Breaker = upstream.BreakerOptions{FailureThreshold: 1, RecoveryTimeout: time.Hour}
		o.Now = func() time.Time { return clk }
	})
	ub.Begin()
	ub.End(upstream.Failure, 0, errors.New("down")) // b's breaker is open
	m1 := route("m1", nil, up("a", fa.srv.URL))
	m1.Fallbacks = []string{"m2", "m3"}
	g := newGateway(gateway.Options{Routes: []gateway.Route{m1, route("m2", nil, ub), route("m3", nil, up("c", fc.srv.URL))}})
	res, err := g.Complete(context.Background(), chat(t, "r", "m1"))
	if err != nil || res.Model != "m3" || res.Attempts != 2 {
		t.Fatalf("res %+v err %v; want m3 after 2 attempts (m2 has nothing available, which is no attempt)", res, err)
	}
	fc.setHandle(status(500, "c is down"))
	_, err = g.Complete(context.Background(), chat(t, "r2", "m1"))
	if err == nil || !strings.Contains(err.Error(), "m2: no upstream available") {
		t.Errorf("err = %v; want the m2 step reported as no upstream available", err)
	}
}

func TestFallbackResponseAnswersChat(t *testing.T) {
	t.Parallel()
	f := newFake(t, "a", status(503, "overloaded"))
	r := route("m", nil, up("a", f.srv.URL))
	r.FallbackResponse = "The service is busy; please try again."
	g := newGateway(gateway.Options{Routes: []gateway.Route{r}})

	res, err := g.Complete(context.Background(), chat(t, "r1", "m"))
	if err != nil || !res.Fallback {
		t.Fatalf("res %+v err %v; want the fallback answer", res, err)
	}
	var body struct {
		Object  string
		Model   string
		Choices []struct {
			Message      struct{ Role, Content string }
			FinishReason string `json:"finish_reason"`
		}
	}
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Fatalf("fallback body is not JSON: %v\n%s", err, res.Body)
	}
	if body.Object != "chat.completion" || body.Model != "m" || len(body.Choices) != 1 ||
		body.Choices[0].Message.Content != r.FallbackResponse || body.Choices[0].FinishReason != "stop" {
		t.Errorf("fallback body %s", res.Body)
	}

	var s sink
	res, err = g.Stream(context.Background(), chatStream(t, "r2", "m"), &s)
	if err != nil || !res.Fallback {
		t.Fatalf("stream: res %+v err %v; want the fallback answer", res, err)
	}
	got := s.all()
	if !strings.Contains(got, `"content":"The service is busy; please try again."`) ||
		!strings.Contains(got, `"finish_reason":"stop"`) || !strings.HasSuffix(got, "[DONE]") {
		t.Errorf("fallback stream:\n%s", got)
	}
	for _, ev := range s.events[:len(s.events)-1] {
		if !json.Valid([]byte(ev)) {
			t.Errorf("fallback stream event is not JSON: %s", ev)
		}
	}

	// Only chat has a canned answer.
	_, err = g.Complete(context.Background(), call(t, openai.EndpointCompletion, "r3", `{"model":"m","prompt":"x"}`))
	var ex *gateway.ExhaustedError
	if !errors.As(err, &ex) {
		t.Errorf("completion endpoint: err = %v, want *ExhaustedError, no fallback", err)
	}
}

// TestInsufficientSystemResourceIsRetried: DeepSeek's finish_reason
// insufficient_system_resource is a partial answer dressed as a 200.
func TestInsufficientSystemResourceIsRetried(t *testing.T) {
	t.Parallel()
	a := newFake(t, "a", func(w http.ResponseWriter, r *http.Request, _ int) {
		var req struct{ Stream bool }
		json.NewDecoder(r.Body).Decode(&req)
		if req.Stream {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"insufficient_system_resource\"}]}\n\ndata: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hal"},"finish_reason":"insufficient_system_resource"}]}`)
	})
	b := newFake(t, "b", ok)
	g := newGateway(gateway.Options{Routes: []gateway.Route{tiered("m", up("a", a.srv.URL), up("b", b.srv.URL))}})

	res, err := g.Complete(context.Background(), chat(t, "r1", "m"))
	if err != nil || res.Upstream != "b" || res.Attempts != 2 || strings.Contains(string(res.Body), "insufficient") {
		t.Fatalf("non-streaming: res %+v err %v; want b's answer after 2 attempts", res, err)
	}
	var s sink
	res, err = g.Stream(context.Background(), chatStream(t, "r2", "m"), &s)
	if err != nil || res.Upstream != "b" || strings.Contains(s.all(), "insufficient") || !strings.HasSuffix(s.all(), "[DONE]") {
		t.Fatalf("streaming, cut before any content: res %+v err %v\n%s", res, err, s.all())
	}
}

func TestInsufficientSystemResourceMidStreamIsNotRetried(t *testing.T) {
	t.Parallel()
	a := newFake(t, "a", func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hal\"},\"finish_reason\":null}]}\n\n")
		fmt.Fprint(w, "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"insufficient_system_resource\"}]}\n\ndata: [DONE]\n\n")
	})
	b := newFake(t, "b", ok)
	g := newGateway(gateway.Options{Routes: []gateway.Route{tiered("m", up("a", a.srv.URL), up("b", b.srv.URL))}})
	var s sink
	res, err := g.Stream(context.Background(), chatStream(t, "r", "m"), &s)
	if err == nil || !res.Started || b.count() != 0 {
		t.Fatalf("res %+v err %v, b saw %d; content already reached the client, so no retry", res, err, b.count())
	}
	if !strings.Contains(err.Error(), "insufficient_system_resource") {
		t.Errorf("err = %v", err)
	}
}

func TestStalledStreamIsCutWithinIdleTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	a := newFake(t, "a", func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hel\"},\"finish_reason\":null}]}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before a's server closes
	b := newFake(t, "b", ok)
	ua := up("a", a.srv.URL, func(o *upstream.Options) { o.IdleTimeout = 200 * time.Millisecond })
	g := newGateway(gateway.Options{Routes: []gateway.Route{tiered("m", ua, up("b", b.srv.URL))}})
	var s sink
	// The upstream holds the stream open until the test ends, so only the
	// idle timer can end this call, and it says so with ErrStalled.
	res, err := g.Stream(context.Background(), chatStream(t, "r", "m"), &s)
	if !errors.Is(err, gateway.ErrStalled) || !res.Started {
		t.Fatalf("err = %v, started %v; want ErrStalled after content", err, res.Started)
	}
	if b.count() != 0 {
		t.Error("a stream that had started was retried")
	}
	if got := upstream.Summary(err); !strings.Contains(got, "stalled") {
		t.Errorf("client sees %q", got)
	}
}

func TestFirstTokenTimeoutRetriesElsewhere(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	a := newFake(t, "a", func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		fmt.Fprint(w, ": keep-alive\n\n") // comments do not count as a first token
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before a's server closes
	b := newFake(t, "b", ok)
	ua := up("a", a.srv.URL, func(o *upstream.Options) { o.FirstTokenTimeout = 200 * time.Millisecond })
	g := newGateway(gateway.Options{Routes: []gateway.Route{tiered("m", ua, up("b", b.srv.URL))}})
	var s sink
	res, err := g.Stream(context.Background(), chatStream(t, "r", "m"), &s)
	if err != nil || res.Upstream != "b" || res.Attempts != 2 || !strings.HasSuffix(s.all(), "[DONE]") {
		t.Fatalf("res %+v err %v\n%s", res, err, s.all())
	}
}

func TestNoTargetAvailable(t *testing.T) {
	t.Parallel()
	u := up("a", deadURL(t), func(o *upstream.Options) { o.MaxConcurrency = 1 })
	u.Begin() // full
	g := newGateway(gateway.Options{Routes: []gateway.Route{route("m", nil, u)}})
	if g.Ready() {
		t.Error("Ready with the only target full")
	}
	_, err := g.Complete(context.Background(), chat(t, "r", "m"))
	if !errors.Is(err, upstream.ErrNoTarget) {
		t.Errorf("err = %v, want ErrNoTarget", err)
	}
}
