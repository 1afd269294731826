package chatwire_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/anthropic"
	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
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

// BenchmarkDecodeStream decodes, as a translator does, the 20 chunks of a
// bench/apis stream (bench/cpu's mock: role, 17 tokens, finish, usage)
// into one Chunk, reset between streams: what one streamed request's
// chunks cost to read. "role-every-chunk" is the same stream with the role
// in every token chunk, as Ollama sends it.
func BenchmarkDecodeStream(b *testing.B) {
	const head = `{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[`
	for _, every := range []bool{false, true} {
		role := ""
		if every {
			role = `"role":"assistant",`
		}
		chunks := [][]byte{[]byte(head + `{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`)}
		for i := range 17 {
			chunks = append(chunks, []byte(head+`{"index":0,"delta":{`+role+`"content":"tok`+strconv.Itoa(i)+` "},"finish_reason":null}]}`))
		}
		chunks = append(chunks, []byte(head+`{"index":0,"delta":{},"finish_reason":"stop"}]}`),
			[]byte(`{"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":17,"total_tokens":29}}`))
		name := "role-first"
		if every {
			name = "role-every-chunk"
		}
		b.Run(name, func(b *testing.B) {
			var c chatwire.Chunk
			b.ReportAllocs()
			for b.Loop() {
				c.Reset()
				for _, ch := range chunks {
					if err := chatwire.DecodeChunk(ch, &c); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// agentRequest is a coding agent's request as Claude Code sends one: a
// long system prompt, tools with JSON schemas, and a conversation of tool
// calls and results (77 KB, most of it text). The translators' cost per
// byte shows here, not in the table's small conversation.
func agentRequest() []byte {
	var b strings.Builder
	text := strings.Repeat("You are an agent for software engineering tasks. Use the tools to read and edit files; keep answers short. ", 40)
	b.WriteString(`{"model":"deepseek-chat","max_tokens":8192,"stream":true,"system":[{"type":"text","text":`)
	b.WriteString(strconv.Quote(text))
	b.WriteString(`}],"tools":[`)
	for i := range 24 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":"tool_` + strconv.Itoa(i) + `","description":` + strconv.Quote(text[:600]) +
			`,"input_schema":{"type":"object","properties":{"path":{"type":"string","description":"The absolute path of the file"},"offset":{"type":"integer"},"limit":{"type":"integer"},"content":{"type":"string"}},"required":["path"]}}`)
	}
	b.WriteString(`],"messages":[{"role":"user","content":"Fix the failing test in the parser."}`)
	for i := range 20 {
		id := `"toolu_` + strconv.Itoa(i) + `"`
		b.WriteString(`,{"role":"assistant","content":[{"type":"text","text":"Reading the file."},{"type":"tool_use","id":` + id +
			`,"name":"tool_1","input":{"path":"/src/parser.go","offset":` + strconv.Itoa(i*100) + `}}]}`)
		b.WriteString(`,{"role":"user","content":[{"type":"tool_result","tool_use_id":` + id + `,"content":` +
			strconv.Quote(strings.Repeat("func parse(b []byte) (int, error) {\n\treturn 0, nil\n}\n", 40)) + `}]}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkAgentRequest checks agentRequest ("valid": jsonenc.Valid, the
// pass each of the others makes) and translates it into chat completions
// ("messages": anthropic.ToChat, which also reads the chat body as it
// writes it: the pipeline does not parse it again); "chat" is openai.Parse
// of the same chat body sent to /v1/chat/completions, what the
// translation's cost is compared with.
func BenchmarkAgentRequest(b *testing.B) {
	body := agentRequest()
	chat, _, err := anthropic.ToChat(body)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("valid", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if !jsonenc.Valid(body) {
				b.Fatal("invalid")
			}
		}
	})
	b.Run("messages", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := anthropic.ToChat(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("chat", func(b *testing.B) {
		b.SetBytes(int64(len(chat)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := openai.Parse(openai.EndpointChat, chat); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// agentResponsesRequest is agentRequest as a Codex-style client sends it
// to the Responses API: instructions, function tools, and input items of
// function calls and their outputs.
func agentResponsesRequest() []byte {
	var b strings.Builder
	text := strings.Repeat("You are an agent for software engineering tasks. Use the tools to read and edit files; keep answers short. ", 40)
	b.WriteString(`{"model":"deepseek-chat","max_output_tokens":8192,"stream":true,"store":false,"instructions":`)
	b.WriteString(strconv.Quote(text))
	b.WriteString(`,"tools":[`)
	for i := range 24 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"type":"function","name":"tool_` + strconv.Itoa(i) + `","description":` + strconv.Quote(text[:600]) +
			`,"parameters":{"type":"object","properties":{"path":{"type":"string","description":"The absolute path of the file"},"offset":{"type":"integer"},"limit":{"type":"integer"},"content":{"type":"string"}},"required":["path"]}}`)
	}
	b.WriteString(`],"input":[{"role":"user","content":[{"type":"input_text","text":"Fix the failing test in the parser."}]}`)
	for i := range 20 {
		id := `"call_` + strconv.Itoa(i) + `"`
		b.WriteString(`,{"type":"function_call","call_id":` + id + `,"name":"tool_1","arguments":` +
			strconv.Quote(`{"path":"/src/parser.go","offset":`+strconv.Itoa(i*100)+`}`) + `}`)
		b.WriteString(`,{"type":"function_call_output","call_id":` + id + `,"output":` +
			strconv.Quote(strings.Repeat("func parse(b []byte) (int, error) {\n\treturn 0, nil\n}\n", 40)) + `}`)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkAgentResponsesRequest translates agentResponsesRequest
// ("responses": responses.ToChat, reading the chat body as it writes it)
// and parses the chat body as /v1/chat/completions would ("chat").
func BenchmarkAgentResponsesRequest(b *testing.B) {
	body := agentResponsesRequest()
	chat, _, err := responses.ToChat(body)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("responses", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := responses.ToChat(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("chat", func(b *testing.B) {
		b.SetBytes(int64(len(chat)))
		for b.Loop() {
			if _, err := openai.Parse(openai.EndpointChat, chat); err != nil {
				b.Fatal(err)
			}
		}
	})
}
