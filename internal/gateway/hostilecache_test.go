package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
)

// hostileGetHook is a gateway.Cache over memCache that reports each Get,
// so a test knows a second caller is past its lookup and about to join
// the call in flight.
type hostileGetHook struct {
	memCache
	gets atomic.Int64
	on   func(n int64)
}

func (h *hostileGetHook) Get(ctx context.Context, k cache.Key) (cache.Hit, error) {
	hit, err := h.memCache.Get(ctx, k)
	if n := h.gets.Add(1); h.on != nil {
		h.on(n)
	}
	return hit, err
}

// A model's fallback model answered (its own targets were down): that
// answer is not the primary model's, and the fallback model keeps itself
// out of the cache. It must not be stored under the primary model's key
// and replayed, for the whole TTL, to callers of the primary model once
// the primary is back.
func TestHostileCacheFallbackModelAnswerNotReplayedForPrimary(t *testing.T) {
	t.Parallel()
	fa := newFake(t, "a", status(503, "a is down"))
	fb := newFake(t, "b", ok)
	m1 := route("m1", nil, up("a", fa.srv.URL))
	m1.Fallbacks = []string{"m2"}
	m2 := route("m2", nil, up("b", fb.srv.URL))
	m2.Cache.Disabled = true // the fallback model is kept out of the cache
	g := newGateway(gateway.Options{Routes: []gateway.Route{m1, m2}, Cache: &memCache{m: map[cache.Key]cache.Entry{}}})
	body := `{"model":"m1","temperature":0,` + hi + `}`

	res, err := g.Complete(context.Background(), call(t, openai.EndpointChat, "r1", body))
	if err != nil {
		t.Fatal(err)
	}
	if res.Model != "m2" {
		t.Fatalf("first call answered by %q, want the fallback m2", res.Model)
	}
	fa.setHandle(ok) // the primary model is back
	res, err = g.Complete(context.Background(), call(t, openai.EndpointChat, "r2", body))
	if err != nil {
		t.Fatal(err)
	}
	if res.Cache == gateway.CacheHit || fa.count() != 2 {
		t.Errorf("second call: cache %q, primary upstream called %d times; the fallback model's answer "+
			"(m2, cache disabled) was stored under m1's key and replayed instead of asking m1", res.Cache, fa.count())
	}
}

// A stream answered with the model's fallback_response (every target
// failed) records no chunk; a caller coalesced onto it must not get the
// empty entry built from nothing (a 200 with "choices":[]) as a cache hit.
func TestHostileCacheCoalescedFollowerOfStreamFallbackGetsAnAnswer(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free)
	f := newFake(t, "a", func(w http.ResponseWriter, r *http.Request, _ int) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		status(503, "down")(w, r, 0)
	})
	m := route("m", nil, up("a", f.srv.URL))
	m.FallbackResponse = "sorry, try later"
	joined := make(chan struct{})
	c := &hostileGetHook{memCache: memCache{m: map[cache.Key]cache.Entry{}}}
	c.on = func(n int64) {
		if n == 2 { // the follower's lookup missed: it joins the leader next
			close(joined)
		}
	}
	g := newGateway(gateway.Options{MaxAttempts: 1, Routes: []gateway.Route{m}, Cache: c})
	const msgs = `"temperature":0,"messages":[{"role":"user","content":"hi"}]`

	leaderDone := make(chan error, 1)
	var leader sink
	go func() {
		_, err := g.Stream(context.Background(), call(t, openai.EndpointChat, "lead", `{"model":"m","stream":true,`+msgs+`}`), &leader)
		leaderDone <- err
	}()
	deadline := time.Now().Add(2 * time.Second)
	for f.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	type outcome struct {
		res *gateway.Result
		err error
	}
	followerDone := make(chan outcome, 1)
	go func() {
		res, err := g.Complete(context.Background(), call(t, openai.EndpointChat, "follow", `{"model":"m",`+msgs+`}`))
		followerDone <- outcome{res, err}
	}()
	select {
	case <-joined:
		time.Sleep(50 * time.Millisecond) // from its lookup into the coalescing group
	case <-time.After(2 * time.Second):
	}
	free()
	if err := <-leaderDone; err != nil {
		t.Fatalf("leader: %v", err)
	}
	if !strings.Contains(leader.all(), "sorry, try later") {
		t.Fatalf("leader did not get the fallback response:\n%s", leader.all())
	}
	fo := <-followerDone
	if fo.err != nil {
		t.Fatalf("follower: %v", fo.err)
	}
	if !strings.Contains(string(fo.res.Body), "sorry, try later") {
		t.Errorf("coalesced follower (cache %q/%q) got %s; want an answer (the fallback response), not an empty completion",
			fo.res.Cache, fo.res.CacheTier, fo.res.Body)
	}
}

// llama.cpp puts its timings on the usage chunk; for a client that did
// not ask for usage the gateway moves them onto the finish chunk
// (ARCHITECTURE.md, "Every stream asks the upstream for usage"). A replay
// of the same stream from the cache must end the same way.
func TestHostileCacheReplayKeepsFinishChunkTimings(t *testing.T) {
	t.Parallel()
	f := newFake(t, "a", func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		head := `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":`
		fmt.Fprint(w, "data: "+head+`[{"index":0,"delta":{"role":"assistant","content":"hello"},"finish_reason":null}]}`+"\n\n")
		fmt.Fprint(w, "data: "+head+`[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\n")
		fmt.Fprint(w, "data: "+head+`[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},`+
			`"timings":{"prompt_n":3,"predicted_n":1,"predicted_per_second":42.5}}`+"\n\n")
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	g := cachedGateway(t, f.srv.URL, nil)
	finish := func(s *sink) string {
		for _, ev := range s.events {
			if strings.Contains(ev, `"finish_reason":"stop"`) {
				return ev
			}
		}
		return ""
	}
	var live, replay sink
	if _, err := g.Stream(context.Background(), cachedStream(t, "live", false), &live); err != nil {
		t.Fatal(err)
	}
	res, err := g.Stream(context.Background(), cachedStream(t, "replay", false), &replay)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cache != gateway.CacheHit {
		t.Fatalf("second stream: cache %q, want a hit", res.Cache)
	}
	if !strings.Contains(finish(&live), `"timings"`) {
		t.Fatalf("live finish chunk has no timings (precondition): %s", finish(&live))
	}
	if !strings.Contains(finish(&replay), `"timings"`) {
		t.Errorf("replayed finish chunk lost the timings the live one carries:\nlive:   %s\nreplay: %s", finish(&live), finish(&replay))
	}
}

// vLLM's stream_options.continuous_usage_stats puts a usage object on
// every chunk. The key ignores stream_options, so a stream recorded for a
// client that asked for it is replayed to one that did not: every chunk
// then carries usage the live stream would not have (and SDKs that sum
// per-chunk usage, see cache.Entry.Stream, count it many times).
func TestHostileCacheReplayDoesNotInheritContinuousUsage(t *testing.T) {
	t.Parallel()
	f := newFake(t, "a", func(w http.ResponseWriter, r *http.Request, _ int) {
		var req struct {
			StreamOptions struct {
				Continuous bool `json:"continuous_usage_stats"`
			} `json:"stream_options"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		w.Header().Set("Content-Type", "text/event-stream")
		head := `{"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":`
		usage := func(n int) string {
			if !req.StreamOptions.Continuous {
				return ""
			}
			return fmt.Sprintf(`,"usage":{"prompt_tokens":3,"completion_tokens":%d,"total_tokens":%d}`, n, 3+n)
		}
		fmt.Fprint(w, "data: "+head+`[{"index":0,"delta":{"role":"assistant","content":"hel"},"finish_reason":null}]`+usage(1)+"}\n\n")
		fmt.Fprint(w, "data: "+head+`[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]`+usage(2)+"}\n\n")
		fmt.Fprint(w, "data: "+head+`[{"index":0,"delta":{},"finish_reason":"stop"}]`+usage(2)+"}\n\n")
		fmt.Fprint(w, "data: "+head+`[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`+"\n\n")
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	g := cachedGateway(t, f.srv.URL, nil)
	const msgs = `"temperature":0,"messages":[{"role":"user","content":"hi"}]`
	withUsage := func(s *sink) int {
		n := 0
		for _, ev := range s.events {
			if strings.Contains(ev, `"usage":{`) {
				n++
			}
		}
		return n
	}
	var a, b sink
	if _, err := g.Stream(context.Background(), call(t, openai.EndpointChat, "a",
		`{"model":"m","stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":true},`+msgs+`}`), &a); err != nil {
		t.Fatal(err)
	}
	res, err := g.Stream(context.Background(), call(t, openai.EndpointChat, "b",
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},`+msgs+`}`), &b)
	if err != nil {
		t.Fatal(err)
	}
	if n := withUsage(&b); n != 1 {
		t.Errorf("a client that asked only for include_usage got %d chunks with usage (cache %q); live it gets 1:\n%s",
			n, res.Cache, b.all())
	}
}
