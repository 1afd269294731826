package openai

import (
	"strings"
	"testing"
)

// benchChatBody is a typical chat request: a system prompt, a short
// conversation, sampling parameters and stream options.
var benchChatBody = []byte(`{"model":"deepseek-chat","stream":true,"stream_options":{"include_usage":true},` +
	`"temperature":0.7,"top_p":0.95,"max_tokens":512,"user":"u-123","tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],` +
	`"messages":[{"role":"system","content":"You are a helpful assistant."},` +
	`{"role":"user","content":"` + strings.Repeat("Tell me about gateways. ", 20) + `"},` +
	`{"role":"assistant","content":"Gateways route requests."},` +
	`{"role":"user","content":"And retries?"}]}`)

// BenchmarkParse measures request decoding, which runs once per request
// (HTTP, gRPC and batch lines alike).
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchChatBody)))
	for b.Loop() {
		if _, err := Parse(EndpointChat, benchChatBody); err != nil {
			b.Fatal(err)
		}
	}
}
