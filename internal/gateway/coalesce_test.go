package gateway_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
)

// pacedStream is an upstream whose stream sends its first chunk, then waits
// for release before sending the rest: the test decides when the leader's
// answer ends.
func pacedStream(release <-chan struct{}) func(http.ResponseWriter, *http.Request, int) {
	return func(w http.ResponseWriter, r *http.Request, _ int) {
		w.Header().Set("Content-Type", "text/event-stream")
		chunk := func(delta, finish string) {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\","+
				"\"choices\":[{\"index\":0,\"delta\":%s,\"finish_reason\":%s}]}\n\n", delta, finish)
			w.(http.Flusher).Flush()
		}
		chunk(`{"role":"assistant","content":"hel"}`, "null")
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		chunk(`{"content":"lo"}`, "null")
		chunk(`{}`, `"stop"`)
		fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[],"+
			"\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2,\"total_tokens\":5}}\n\n")
		fmt.Fprint(w, "data: [DONE]\n\n")
	}
}

// observed records cache results as the metrics get them.
type observed struct {
	mu   sync.Mutex
	seen []string
}

func (o *observed) CacheResult(tier, result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seen = append(o.seen, tier+" "+result)
}

func (o *observed) all() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Sorted(slices.Values(o.seen))
}

func cachedGateway(t *testing.T, url string, obs gateway.CacheObserver) *gateway.Gateway {
	t.Helper()
	mem, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	tc, err := cache.NewTiered(cache.TieredOptions{Tiers: []cache.Tier{{Store: mem, Inline: true}}})
	if err != nil {
		t.Fatal(err)
	}
	return newGateway(gateway.Options{Routes: []gateway.Route{route("m", nil, up("a", url))}, Cache: tc, CacheObserver: obs})
}

func cachedStream(t *testing.T, id string, includeUsage bool) *gateway.Call {
	opts := ""
	if includeUsage {
		opts = `"stream_options":{"include_usage":true},`
	}
	return call(t, openai.EndpointChat, id, `{"model":"m","stream":true,`+opts+`"temperature":0,"messages":[{"role":"user","content":"hi"}]}`)
}

// waitEvents waits until s holds at least n events or d passes.
func waitEvents(s *sink, n int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		got := len(s.events)
		s.mu.Unlock()
		if got >= n {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// A follower coalesced onto a streaming miss gets each event as the leader
// does: it sees the first event while the upstream still holds the rest.
func TestCoalescedStreamIsFannedOutLive(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := newFake(t, "a", pacedStream(release))
	obs := &observed{}
	g := cachedGateway(t, f.srv.URL, obs)

	type outcome struct {
		res *gateway.Result
		err error
	}
	var leader, follower sink
	leaderDone, followerDone := make(chan outcome, 1), make(chan outcome, 1)
	go func() {
		res, err := g.Stream(context.Background(), cachedStream(t, "lead", false), &leader)
		leaderDone <- outcome{res, err}
	}()
	if !waitEvents(&leader, 1, 5*time.Second) {
		close(release)
		t.Fatal("the leader got no first event")
	}
	go func() {
		c := cachedStream(t, "follow", true)
		c.Notes = sinkNotes{&follower}
		res, err := g.Stream(context.Background(), c, &follower)
		followerDone <- outcome{res, err}
	}()
	live := waitEvents(&follower, 2, 3*time.Second) // the cache result, then the first chunk
	close(release)
	if !live {
		t.Error("the follower saw no event before the leader's stream ended")
	}
	lo, fo := <-leaderDone, <-followerDone
	if lo.err != nil || fo.err != nil {
		t.Fatalf("leader: %v, follower: %v", lo.err, fo.err)
	}
	if n := f.count(); n != 1 {
		t.Errorf("upstream called %d times, want 1 (coalesced)", n)
	}
	if got, want := obs.all(), []string{"all miss", "coalesced hit"}; !slices.Equal(got, want) {
		t.Errorf("cache results counted = %q, want %q (the leader missed, the follower got a coalesced hit)", got, want)
	}
	if fo.res.Cache != gateway.CacheHit || fo.res.CacheTier != "coalesced" || !fo.res.Started {
		t.Errorf("follower result = %+v, want a started coalesced hit", fo.res)
	}
	// The leader did not ask for usage, the follower did: each gets its shape.
	if strings.Contains(leader.all(), `"usage"`) {
		t.Errorf("leader got a usage chunk it did not ask for:\n%s", leader.all())
	}
	follower.mu.Lock()
	first := follower.events[0]
	follower.mu.Unlock()
	if first != "cache hit coalesced" {
		t.Errorf("the follower's first event is %q, want the cache result reported before any data", first)
	}
	if n := strings.Count(follower.all(), "cache "); n != 1 {
		t.Errorf("the cache result was reported %d times, want once", n)
	}
	fe := follower.all()
	if !strings.Contains(fe, `"total_tokens":5`) || !strings.HasSuffix(fe, "[DONE]") {
		t.Errorf("follower stream lacks usage or [DONE]:\n%s", fe)
	}
	if strings.Count(fe, `"content":"hel"`) != 1 || strings.Count(fe, `"content":"lo"`) != 1 {
		t.Errorf("follower got content other than once each:\n%s", fe)
	}
}

// A streamed miss is stored when its answer finished normally, not when
// it stopped otherwise (a content filter): the verdict comes from the
// scan that builds the entry, as for an answer that does not stream.
func TestStreamedMissStoredOnlyWhenFinished(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		finish string
		calls  int
	}{{"stop", 1}, {"length", 1}, {"content_filter", 2}} {
		f := newFake(t, "a", func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Content-Type", "text/event-stream")
			fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":null}]}\n\n")
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":%q}]}\n\n", tc.finish)
			fmt.Fprint(w, "data: [DONE]\n\n")
		})
		g := cachedGateway(t, f.srv.URL, nil)
		for i := range 2 {
			var s sink
			if _, err := g.Stream(context.Background(), cachedStream(t, fmt.Sprint("r", i), false), &s); err != nil {
				t.Fatalf("%s: %v", tc.finish, err)
			}
		}
		if n := f.count(); n != tc.calls {
			t.Errorf("finish_reason %s: upstream called %d times for two equal streams, want %d", tc.finish, n, tc.calls)
		}
	}
}

// sinkNotes writes the cache result into a test's sink as an event.
type sinkNotes struct{ s *sink }

func (n sinkNotes) Cache(result, tier string) { n.s.Data([]byte("cache " + result + " " + tier)) }
func (n sinkNotes) Upstream(string)           {}
func (n sinkNotes) Fallback()                 {}
