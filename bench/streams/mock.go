package main

import (
	"bytes"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The mock upstream streams every chat request as n chunks (role, n-3
// content chunks, the finish reason, the usage chunk) and [DONE], each
// flushed, the first at once and each later one an interval after the
// one before. With interval 0 the events leave as fast as the proxy reads
// them (the CPU phase: 2 and 20 chunks); 40 chunks at 250ms are a model
// at 4 tokens/s that streams for 10 s (the open-streams phase).

// buildEvents returns the wire form of the events of one answer.
func buildEvents(chunks int) [][]byte {
	const head = `data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[`
	ev := [][]byte{[]byte(head + `{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}` + "\n\n")}
	for i := range max(chunks-3, 0) {
		ev = append(ev, []byte(head+`{"index":0,"delta":{"content":"tok`+strconv.Itoa(i)+` "},"logprobs":null,"finish_reason":null}]}`+"\n\n"))
	}
	if chunks >= 2 {
		ev = append(ev, []byte(head+`{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`+"\n\n"))
	}
	if chunks >= 3 {
		ev = append(ev, []byte(`data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[],`+
			`"usage":{"prompt_tokens":12,"completion_tokens":`+strconv.Itoa(chunks-3)+`,"total_tokens":`+strconv.Itoa(chunks+9)+`}}`+"\n\n"))
	}
	return append(ev, []byte("data: [DONE]\n\n"))
}

// mock is the upstream: answers of each length are built once.
type mock struct {
	chunks   int
	interval time.Duration
	mu       sync.Mutex
	answers  map[int][][]byte
}

// events returns the answer for a request body: its max_tokens, when
// given (1 to 1000), is the number of chunks; otherwise m.chunks.
func (m *mock) events(body []byte) [][]byte {
	n := m.chunks
	if i := bytes.Index(body, []byte(`"max_tokens":`)); i >= 0 {
		rest := body[i+len(`"max_tokens":`):]
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if v, err := strconv.Atoi(string(rest[:j])); err == nil && v >= 1 && v <= 1000 {
			n = v
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ev, ok := m.answers[n]
	if !ok {
		ev = buildEvents(n)
		m.answers[n] = ev
	}
	return ev
}

func (m *mock) chat(w http.ResponseWriter, r *http.Request) {
	var buf [4096]byte
	n := 0
	for n < len(buf) {
		k, err := r.Body.Read(buf[n:])
		n += k
		if err != nil {
			break
		}
	}
	events := m.events(buf[:n])
	h := w.Header()
	h["Content-Type"] = []string{"text/event-stream"}
	h["Cache-Control"] = []string{"no-cache"}
	f := w.(http.Flusher)
	for i, e := range events {
		if i > 0 && m.interval > 0 {
			t := time.NewTimer(m.interval)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		if _, err := w.Write(e); err != nil {
			return
		}
		f.Flush()
	}
}

// serveMock runs the mock on addr until the process is killed.
func serveMock(addr string, chunks int, interval time.Duration) error {
	m := &mock{chunks: chunks, interval: interval, answers: map[int][][]byte{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("POST /v1/chat/completions", m.chat)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}
