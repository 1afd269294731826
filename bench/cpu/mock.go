package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// The mock upstream answers every chat request with one fixed answer, so
// the upstream costs as little CPU as net/http allows and never caps the
// rate of the proxy under test. It counts the connections it accepts: a
// proxy that reuses its upstream connections opens none after warm-up.

// mockAnswer is a non-streaming chat completion with usage.
var mockAnswer = []byte(`{"id":"chatcmpl-mock","object":"chat.completion","created":1764000000,"model":"deepseek-chat",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Hello! I am a fixed answer of the benchmark's mock upstream."},` +
	`"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":16,"total_tokens":28}}`)

// mockEvents are the SSE events of a streamed answer (role, 17 content
// chunks, the finish reason, the usage chunk: 20), then [DONE]. The
// number of content chunks is BENCH_MOCK_TOKENS when set (bench/apis
// measures its APIs across answer lengths with it).
var mockEvents = buildEvents(mockTokens())

func mockTokens() int {
	n, err := strconv.Atoi(os.Getenv("BENCH_MOCK_TOKENS"))
	if err != nil || n < 1 {
		return 17
	}
	return n
}

func buildEvents(tokens int) [][]byte {
	const head = `data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[`
	ev := [][]byte{[]byte(head + `{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n")}
	for i := range tokens {
		ev = append(ev, []byte(head+`{"index":0,"delta":{"content":"tok`+strconv.Itoa(i)+` "},"finish_reason":null}]}`+"\n\n"))
	}
	ev = append(ev, []byte(head+`{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\n"))
	ev = append(ev, []byte(`data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[],`+
		`"usage":{"prompt_tokens":12,"completion_tokens":`+strconv.Itoa(tokens)+`,"total_tokens":`+strconv.Itoa(12+tokens)+`}}`+"\n\n"))
	ev = append(ev, []byte("data: [DONE]\n\n"))
	return ev
}

// mockServer is the mock upstream with its connection counter. A burst
// mock (BENCH_MOCK_BURST=1) writes a stream's events in one write instead
// of flushing each: then how a proxy's reads and writes batch does not
// depend on timing, and two ways through the same proxy (bench/apis)
// differ only by their own work. A paced mock (BENCH_MOCK_PACE=2ms)
// flushes each event and waits that long before the next, as a model
// streams its tokens: each then reaches the proxy alone, and leaves it
// in a write of its own, whatever the way through.
type mockServer struct {
	conns atomic.Int64
	burst bool
	pace  time.Duration
}

func (m *mockServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("GET /conns", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%d", m.conns.Load())
	})
	mux.HandleFunc("POST /v1/chat/completions", m.chat)
	return mux
}

// chat reads the whole request and writes the fixed answer; a body that
// asks for a stream ("stream":true anywhere) gets the events, each flushed.
func (m *mockServer) chat(w http.ResponseWriter, r *http.Request) {
	var buf [8192]byte
	n := 0
	for {
		k, err := r.Body.Read(buf[n:])
		n += k
		if err != nil || n == len(buf) {
			break
		}
	}
	if !containsStream(buf[:n]) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(mockAnswer))}
		w.Write(mockAnswer)
		return
	}
	h := w.Header()
	h["Content-Type"] = []string{"text/event-stream"}
	h["Cache-Control"] = []string{"no-cache"}
	if m.burst {
		w.Write(mockStream)
		return
	}
	f := w.(http.Flusher)
	for i, e := range mockEvents {
		if i > 0 && m.pace > 0 {
			time.Sleep(m.pace)
		}
		w.Write(e)
		f.Flush()
	}
}

// mockStream is mockEvents in one piece, what a burst mock writes.
var mockStream = bytes.Join(mockEvents, nil)

func containsStream(b []byte) bool {
	const key = `"stream":true`
	for i := 0; i+len(key) <= len(b); i++ {
		if string(b[i:i+len(key)]) == key {
			return true
		}
	}
	return false
}

// serveMock serves the mock upstream on addr until the process ends.
func serveMock(addr string) error {
	m := &mockServer{burst: os.Getenv("BENCH_MOCK_BURST") == "1"}
	if p := os.Getenv("BENCH_MOCK_PACE"); p != "" {
		d, err := time.ParseDuration(p)
		if err != nil {
			return fmt.Errorf("BENCH_MOCK_PACE: %w", err)
		}
		m.pace = d
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: m.handler(), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			m.conns.Add(1)
		}
	}}
	return srv.Serve(ln)
}
