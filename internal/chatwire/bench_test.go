package chatwire_test

import (
	"strconv"
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
			if err := s.Flush(discard); err != nil { // each chunk flushed as it comes
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
			if err := s.Flush(discard); err != nil { // each chunk flushed as it comes
				b.Fatal(err)
			}
		}
		if err := s.Finish(discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeChunk decodes the token chunks of bench/cpu's mock
// upstream, what the translators do per upstream chunk: "template" as the
// chunks of one stream (all but the first read from the template of the
// one before), "walk" alternating content and reasoning_content, so that
// no chunk matches the one before.
func BenchmarkDecodeChunk(b *testing.B) {
	const head = `{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[{"index":0,"delta":{"`
	for _, walk := range []bool{false, true} {
		var chunks [][]byte
		for i := range 16 {
			field := "content"
			if walk && i%2 == 1 {
				field = "reasoning_content"
			}
			chunks = append(chunks, []byte(head+field+`":"tok`+strconv.Itoa(i)+` "},"finish_reason":null}]}`))
		}
		name := "template"
		if walk {
			name = "walk"
		}
		b.Run(name, func(b *testing.B) {
			var c chatwire.Chunk
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := chatwire.DecodeChunk(chunks[i%len(chunks)], &c); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
