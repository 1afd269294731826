package httpapi_test

import (
	"bufio"
	"io"
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

// The gateway waits up to DrainWait after [DONE] for the end of the
// upstream's body, to reuse the connection (issue 22). The client's last
// events must not wait with it: a translated stream's message_stop or
// response.completed leaves with [DONE], and the response ends when the
// drain gives up, not when the upstream ends its body. (Found by a
// review: the translated routes' last events waited for the drain.)
func TestLastEventsDoNotWaitForTheUpstreamsBodyEnd(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(shortStream))
		w.(http.Flusher).Flush()
		select { // the body stays open long after [DONE]
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(up.Close)
	u := upstream.New(upstream.Options{Name: "local", Kind: upstream.KindOpenAI, URL: up.URL})
	const drain = 700 * time.Millisecond
	gw := gateway.New(gateway.Options{DrainWait: drain, Routes: []gateway.Route{{Name: "deepseek-chat",
		Pool: upstream.NewPool([]*upstream.Target{{Upstream: u, Model: "m"}}, &upstream.RoundRobin{}, upstream.DefaultRules())}}})
	a := newAPI(t, apiOptions{})
	a.backend.stream = gw.Stream
	for _, tc := range []struct{ path, body, first, last string }{
		{"/v1/chat/completions", streamBody, `"content":"hi"`, "data: [DONE]"},
		{"/v1/messages", messagesStreamBody, `"text":"hi"`, "event: message_stop"},
		{"/v1/responses", responsesStreamBody, `"delta":"hi"`, "event: response.completed"},
	} {
		resp := a.postStream(t, tc.path, tc.body)
		sc := bufio.NewScanner(resp.Body)
		var first, last time.Time
		for sc.Scan() {
			l := sc.Text()
			if first.IsZero() && strings.Contains(l, tc.first) {
				first = time.Now()
			}
			if last.IsZero() && strings.HasPrefix(l, tc.last) {
				last = time.Now()
			}
		}
		end := time.Now()
		resp.Body.Close()
		if first.IsZero() || last.IsZero() {
			t.Fatalf("%s: events missing", tc.path)
		}
		if d := last.Sub(first); d >= drain/2 {
			t.Errorf("%s: %q reached the client %v after the text that came with it: it waited for the drain", tc.path, tc.last, d)
		}
		if d := end.Sub(first); d > 5*time.Second {
			t.Errorf("%s: the response ended %v after its last event: the drain waited for the upstream", tc.path, d)
		}
	}
}

// Issue 22: a stream whose upstream answer arrives whole, its body's end
// included, reaches the client in one socket write, through every API:
// the gateway leaves its last events to the response's end instead of
// flushing them first (one write for the events, one for the end). The
// upstream connection is reused: the body's end was read.
func TestBurstStreamIsOneWrite(t *testing.T) {
	t.Parallel()
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(shortStream))
	}))
	conns := new(atomic.Int64)
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	u := upstream.New(upstream.Options{Name: "local", Kind: upstream.KindOpenAI, URL: up.URL})
	gw := gateway.New(gateway.Options{Routes: []gateway.Route{{Name: "deepseek-chat",
		Pool: upstream.NewPool([]*upstream.Target{{Upstream: u, Model: "m"}}, &upstream.RoundRobin{}, upstream.DefaultRules())}}})
	writes := new(atomic.Int64)
	a := newAPI(t, apiOptions{writes: writes})
	a.backend.stream = gw.Stream
	for _, tc := range []struct{ path, body, last string }{
		{"/v1/chat/completions", streamBody, "data: [DONE]"},
		{"/v1/messages", messagesStreamBody, `data: {"type":"message_stop"}`},
		{"/v1/responses", responsesStreamBody, `data: {"type":"response.completed"`},
	} {
		for range 3 { // the first may write while it sets up
			writes.Store(0)
			resp := a.postStream(t, tc.path, tc.body)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), tc.last) {
				t.Fatalf("%s: no %q in\n%s", tc.path, tc.last, b)
			}
		}
		if n := writes.Load(); n != 1 {
			t.Errorf("%s: the stream took %d writes, want 1", tc.path, n)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("9 streams one after the other opened %d upstream connections, want 1", n)
	}
}

// shortStream is an upstream's streamed "hi", [DONE] included.
const shortStream = "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":null}]}\n\n" +
	"data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n" +
	"data: [DONE]\n\n"

// The same short streamed request through the translated APIs.
const (
	messagesStreamBody  = `{"model":"deepseek-chat","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}`
	responsesStreamBody = `{"model":"deepseek-chat","stream":true,"store":false,"input":"hi"}`
)

// postStream posts body to path as the admin key and returns the
// response, its body to be read as it streams.
func (a *api) postStream(t *testing.T, path, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", a.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+keyAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
