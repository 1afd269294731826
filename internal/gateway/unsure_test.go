package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

// decodeFailure is llama.cpp's 500 for a request it cannot decode: a
// request-specific message dsgate does not recognise (trial #14).
const decodeFailure = "llama_decode: failed to decode, ret = -3"

// poisoned answers decodeFailure to requests whose body holds "poison" and
// serves every other request.
func poisoned(w http.ResponseWriter, r *http.Request, n int) {
	body, _ := io.ReadAll(r.Body)
	if strings.Contains(string(body), "poison") {
		status(500, decodeFailure)(w, r, n)
		return
	}
	ok(w, r, n)
}

// poisonCall is a call of principal to model that the fake engines fail.
func poisonCall(t *testing.T, principal, model string, i int) *gateway.Call {
	return as(principal, call(t, openai.EndpointChat, fmt.Sprint(model, i),
		`{"model":"`+model+`","messages":[{"role":"user","content":"poison"}],"max_tokens":8}`))
}

// as makes c a call of principal.
func as(principal string, c *gateway.Call) *gateway.Call {
	c.Principal = principal
	return c
}

// realBreaker gives an upstream the default breaker (5 consecutive
// failures, 10 s window).
func realBreaker(clk *clock) func(*upstream.Options) {
	return func(o *upstream.Options) {
		o.Breaker = upstream.BreakerOptions{}
		if clk != nil {
			o.Now = clk.Now
		}
	}
}

// TestOnePrincipalCannotOpenBreakers is trial #14: one tenant sent
// requests that llama.cpp answers with a 500 whose message dsgate does not
// know; five of them opened the breaker of a single-target model, and the
// model was down for everyone. Failures whose blame stays unsure now count
// against an upstream only when calls of two principals cause them.
func TestOnePrincipalCannotOpenBreakers(t *testing.T) {
	t.Parallel()
	f := newFake(t, "llama1", poisoned)
	u := up("llama1", f.srv.URL, realBreaker(nil))
	g := newGateway(gateway.Options{MaxAttempts: 3, Routes: []gateway.Route{route("llama-one", nil, u)}})
	for i := range 20 {
		if _, err := g.Complete(context.Background(), poisonCall(t, "key:evil", "llama-one", i)); err == nil {
			t.Fatalf("poisoned request %d succeeded", i)
		}
	}
	if s := u.Status(); s.Breaker != "closed" || !s.Healthy {
		t.Fatalf("after 20 unexplained failures from one principal the upstream is %+v; want closed", s)
	}
	for i := range 5 {
		if _, err := g.Complete(context.Background(), as("key:innocent", chat(t, fmt.Sprint("honest", i), "llama-one"))); err != nil {
			t.Fatalf("innocent request %d: %v", i, err)
		}
	}
}

// TestTwoPrincipalsOpenBreakers: the same unexplained 500 caused by calls
// of two principals within the breaker's window is the upstream's, and
// opens its breaker; two principals' failures further apart than the
// window do not corroborate each other.
func TestTwoPrincipalsOpenBreakers(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Unix(1_000_000, 0)}
	f := newFake(t, "llama1", status(500, "CUDA error: an illegal memory access was encountered"))
	u := up("llama1", f.srv.URL, realBreaker(clk))
	g := newGateway(gateway.Options{MaxAttempts: 1, Routes: []gateway.Route{route("m", nil, u)}})
	call := func(p string) { g.Complete(context.Background(), as(p, chat(t, p, "m"))) }

	call("key:a")
	clk.add(11 * time.Second) // beyond the 10 s window
	call("key:b")
	clk.add(11 * time.Second)
	call("key:a")
	if s := u.BreakerState(); s != upstream.BreakerClosed {
		t.Fatalf("breaker %v after failures of two principals 11 s apart; want closed", s)
	}
	for i := range 10 {
		call([]string{"key:a", "key:b"}[i%2])
		if u.BreakerState() == upstream.BreakerOpen {
			return
		}
	}
	t.Fatalf("two principals failed 10 times in a row within the window; breaker %v, want open", u.BreakerState())
}

// TestUnsureFailuresDoNotCascade is trial #43: after opening llama1 through
// the single-target model llama-one, the same tenant's requests to the
// two-target llama-two were charged to llama2, the only target left, and
// the innocent lost both. Now neither opens, and both models serve others.
func TestUnsureFailuresDoNotCascade(t *testing.T) {
	t.Parallel()
	f1 := newFake(t, "llama1", poisoned)
	f2 := newFake(t, "llama2", poisoned)
	u1 := up("llama1", f1.srv.URL, realBreaker(nil))
	u2 := up("llama2", f2.srv.URL, realBreaker(nil))
	g := newGateway(gateway.Options{MaxAttempts: 3, Routes: []gateway.Route{
		route("llama-one", nil, u1), route("llama-two", &upstream.RoundRobin{}, u1, u2)}})
	for _, model := range []string{"llama-one", "llama-two"} {
		for i := range 6 {
			if _, err := g.Complete(context.Background(), poisonCall(t, "key:evil", model, i)); err == nil {
				t.Fatalf("%s: poisoned request %d succeeded", model, i)
			}
		}
	}
	for _, u := range []*upstream.Upstream{u1, u2} {
		if s := u.Status(); s.Breaker != "closed" {
			t.Errorf("%s: breaker %s after one principal's requests", s.Name, s.Breaker)
		}
	}
	for _, model := range []string{"llama-one", "llama-two"} {
		if _, err := g.Complete(context.Background(), as("key:admin", chat(t, "innocent-"+model, model))); err != nil {
			t.Errorf("innocent request to %s: %v", model, err)
		}
	}
}
