package gateway_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/upstream"
)

// Issue 22: a stream's upstream connection goes back to the pool. The
// upstream flushes [DONE] and ends its response a moment later, so the
// chunked body's end arrives after the event; the gateway used to close
// the body unread at [DONE], which closes the connection, and dialled
// again for the next stream (one dial per 10 streams under bench/cpu).
func TestStreamReusesUpstreamConnection(t *testing.T) {
	t.Parallel()
	srv, conns := lateEndServer(t, func(w http.ResponseWriter) {
		streamChunks(w, "m", `{"role":"assistant","content":"hi"}`)
	})
	g := newGateway(gateway.Options{DrainWait: time.Second, Routes: []gateway.Route{route("m", nil, up("a", srv.URL))}})
	for i := range 10 {
		var s sink
		if _, err := g.Stream(context.Background(), chatStream(t, "r", "m"), &s); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("10 streams one after the other opened %d upstream connections, want 1", n)
	}
}

// An upstream that keeps its response open after [DONE] does not hold
// the stream: the gateway waits only DrainWait (default 10ms) for the
// body's end.
func TestStreamDoesNotWaitForAnOpenBodyAfterDone(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streamChunks(w, "m", `{"role":"assistant","content":"hi"}`)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	g := newGateway(gateway.Options{Routes: []gateway.Route{route("m", nil, up("a", srv.URL,
		func(o *upstream.Options) { o.IdleTimeout = time.Minute }))}})
	done := make(chan error, 1)
	go func() {
		var s sink
		_, err := g.Stream(context.Background(), chatStream(t, "r", "m"), &s)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream waited for the upstream to end its response after [DONE]")
	}
}

// flushSink counts flushes.
type flushSink struct {
	sink
	flushes int
}

func (f *flushSink) Flush() error { f.flushes++; return nil }

// Issue 14: a stream that arrives in one burst leaves in one write, the
// finish chunk held back for the usage chunk's timings included (it used
// to be flushed on its own before [DONE]: one more write per stream).
// Issue 22: when the body's end came with [DONE], the gateway does not
// flush at all: the events leave with the response's end, which the
// server writes when the handler returns (a flush at [DONE] made that a
// write of its own). TestStreamReusesUpstreamConnection has the body's
// end come later: then [DONE] is flushed before the gateway waits.
func TestStreamBurstLeavesInOneFlush(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n" +
			"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n" +
			"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n" +
			"data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\n" +
			"data: [DONE]\n\n"))
	}))
	t.Cleanup(srv.Close)
	g := newGateway(gateway.Options{Routes: []gateway.Route{route("m", nil, up("a", srv.URL))}})
	var s flushSink
	if _, err := g.Stream(context.Background(), chatStream(t, "r", "m"), &s); err != nil {
		t.Fatal(err)
	}
	if got := s.all(); !strings.Contains(got, `"finish_reason":"stop"`) || strings.Contains(got, `"usage"`) || !strings.HasSuffix(got, "[DONE]") {
		t.Errorf("stream:\n%s", got)
	}
	if s.flushes != 0 {
		t.Errorf("%d flushes for a stream that arrived in one burst with its body's end, want 0", s.flushes)
	}
}

// The same for a relayed Messages stream: after message_stop the body's
// end is read, and the connection is reused.
func TestNativeStreamReusesUpstreamConnection(t *testing.T) {
	t.Parallel()
	srv, conns := lateEndServer(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\",\"model\":\"deepseek-chat\",\"usage\":{\"input_tokens\":3,\"output_tokens\":0}}}\n\n" +
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n" +
			"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
			"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1}}\n\n" +
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
	})
	u := up("ds", srv.URL, func(o *upstream.Options) { o.Kind = upstream.KindDeepSeek })
	g := newGateway(gateway.Options{DrainWait: time.Second, Routes: []gateway.Route{{Name: "deepseek-chat",
		Pool: upstream.NewPool([]*upstream.Target{{Upstream: u, Model: "deepseek-chat"}}, &upstream.RoundRobin{}, upstream.DefaultRules())}}})
	for i := range 5 {
		var s eventSink
		res, err := g.Stream(context.Background(), nativeCall(t, true), &s)
		if err != nil || !res.Native || !strings.HasSuffix(strings.Join(s.names, " "), "message_stop") {
			t.Fatalf("stream %d: %v %+v %v", i, err, res, s.names)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 relayed streams one after the other opened %d upstream connections, want 1", n)
	}
}

// lateEndServer is an upstream that writes a stream with write, flushes
// it, and ends its response a moment later, so the chunked body's end
// arrives after the last event; it counts the connections it accepts.
func lateEndServer(t *testing.T, write func(http.ResponseWriter)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	conns := new(atomic.Int64)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		write(w)
		w.(http.Flusher).Flush()
		time.Sleep(5 * time.Millisecond)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}
