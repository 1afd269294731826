package chatwire_test

import (
	"testing"

	"github.com/dsgate/dsgate/internal/anthropic"
	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/responses"
)

// The translators' cost per request and per response, over the table's
// conversation (4 messages, 1 tool). bench/RESULTS.md records the figures.

func BenchmarkMessagesToChat(b *testing.B) {
	body := read(b, "messages_request.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := anthropic.ToChat(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResponsesToChat(b *testing.B) {
	body := read(b, "responses_request.json")
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := responses.ToChat(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChatToMessage(b *testing.B) {
	body := read(b, "chat_response_text.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := anthropic.FromChat(body, anthropic.RequestInfo{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChatToResponse(b *testing.B) {
	body := read(b, "chat_response_text.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := responses.FromChat(body, responses.RequestInfo{}); err != nil {
			b.Fatal(err)
		}
	}
}

func discard(string, []byte) error { return nil }

// The stream benchmarks translate a whole streamed answer (8 chunks).
func BenchmarkChatStreamToMessages(b *testing.B) {
	cs := chunks(b, "chat_stream_text.sse")
	b.ReportAllocs()
	for b.Loop() {
		s := anthropic.NewStream(anthropic.RequestInfo{})
		for _, c := range cs {
			if err := s.Chunk(c, discard); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Finish(discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChatStreamToResponses(b *testing.B) {
	cs := chunks(b, "chat_stream_text.sse")
	b.ReportAllocs()
	for b.Loop() {
		s := responses.NewStream(responses.RequestInfo{})
		for _, c := range cs {
			if err := s.Chunk(c, discard); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Finish(discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeChunk decodes a token chunk of bench/cpu's mock upstream,
// what the translators do per upstream chunk.
func BenchmarkDecodeChunk(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"content":"tok1 "},"finish_reason":null}]}`)
	var c chatwire.Chunk
	b.ReportAllocs()
	for b.Loop() {
		if err := chatwire.DecodeChunk(chunk, &c); err != nil {
			b.Fatal(err)
		}
	}
}
