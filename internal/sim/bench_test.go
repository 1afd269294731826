package sim

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const benchMessages = `"messages":[{"role":"system","content":"You are a helpful assistant."},
	{"role":"user","content":"Explain continuous batching in two short paragraphs, please."}]`

func benchChat(b *testing.B, body string) {
	s := New(Options{})
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkChatNonStream measures a 64-token JSON answer.
func BenchmarkChatNonStream(b *testing.B) {
	benchChat(b, `{"model":"deepseek-chat","max_tokens":64,`+benchMessages+`}`)
}

// BenchmarkChatStream measures a 64-token SSE answer with a usage chunk.
func BenchmarkChatStream(b *testing.B) {
	benchChat(b, `{"model":"deepseek-chat","max_tokens":64,"stream":true,"stream_options":{"include_usage":true},`+benchMessages+`}`)
}

// BenchmarkChatStreamReasoner adds 32 reasoning chunks to the stream.
func BenchmarkChatStreamReasoner(b *testing.B) {
	benchChat(b, `{"model":"deepseek-reasoner","max_tokens":64,"stream":true,`+benchMessages+`}`)
}
