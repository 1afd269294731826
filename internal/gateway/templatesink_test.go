package gateway_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/openai"
)

// readingSink is a translator's side of the relay (gateway.TemplateSink):
// it reads each chunk with the relay's word where it has it (fast), and
// each chunk itself (read), and fails on the first difference.
type readingSink struct {
	t          *testing.T
	fast, read chatwire.Chunk
	templated  int
	same       int // Same calls
	fromMark   int // those read from the mark
	sent       []string
}

func (s *readingSink) Comment([]byte) error { return nil }
func (s *readingSink) Flush() error         { return nil }

func (s *readingSink) Data(p []byte) error {
	if string(p) == "[DONE]" {
		return nil
	}
	if err := chatwire.DecodeChunk(p, &s.fast); err != nil {
		s.t.Fatalf("%s: %v", p, err)
	}
	s.compare(p)
	return nil
}

func (s *readingSink) Templated(p []byte, at int) {
	s.templated++
	s.fast.Mark(p, at)
}

func (s *readingSink) Same(p, text []byte) error {
	s.same++
	if s.fast.FromMark(text) {
		s.fromMark++
	} else if err := chatwire.DecodeChunk(p, &s.fast); err != nil {
		s.t.Fatalf("%s: %v", p, err)
	}
	s.compare(p)
	return nil
}

func (s *readingSink) compare(p []byte) {
	s.t.Helper()
	s.sent = append(s.sent, string(p))
	if err := chatwire.DecodeChunk(p, &s.read); err != nil {
		s.t.Fatalf("%s: %v", p, err)
	}
	of := func(c *chatwire.Chunk) string {
		return fmt.Sprintf("%q %q %d %q %s %s %s %+v %v", c.ID, c.Model, c.Created, c.FinishReason, c.Content, c.ReasoningContent, c.Refusal, c.ToolCalls, c.Usage)
	}
	if got, want := of(&s.fast), of(&s.read); got != want {
		s.t.Fatalf("%s: read with the relay's word %s, alone %s", p, got, want)
	}
	// What a translator does to the chunk it read (it names a call that
	// came without an id): nothing read later may carry it.
	s.fast.ID, s.fast.Model, s.fast.FinishReason = "changed", "changed", "changed"
	for i := range s.fast.ToolCalls {
		s.fast.ToolCalls[i].ID, s.fast.ToolCalls[i].Name = "call_changed", "changed"
	}
}

// A translator behind the relay gets the chunks the relay's template
// matched with their text (gateway.TemplateSink), and reads them from
// that as it would read them itself.
func TestTemplateSink(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     []byte
		fromMark int
	}{
		{"role first", sseAnswer(20), 17},
		{"usage null", sseAnswerWith(20, `,"usage":null`), 17},
		{"role in every chunk", []byte(roleEveryChunk(17)), 17},
		{"reasoning then content", []byte(reasoningThenContent()), 4},
		{"a call without an id", []byte(callWithoutID(`{"index":0,"function":{"arguments":%q}}`)), 2},
		{"a call with an empty id", []byte(callWithoutID(`{"index":0,"id":"","function":{"name":"f","arguments":%q}}`)), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &readingSink{t: t}
			if _, err := memGateway(tc.body, "deepseek-chat").Stream(context.Background(), streamCall(t, true)(), sink); err != nil {
				t.Fatal(err)
			}
			if sink.fromMark != tc.fromMark || sink.templated == 0 {
				t.Errorf("%d templates, %d chunks by Same, %d read from the mark; want %d", sink.templated, sink.same, sink.fromMark, tc.fromMark)
			}
		})
	}
}

// A target whose model is not the route's name (DeepSeek's cloud as the
// quick start configures it) or an engine that names its reasoning field
// reasoning (vLLM) has every chunk rewritten: the relay keeps its template
// all the same, and sends each chunk it matches as the rewriting would
// have.
func TestTemplateSinkRenamed(t *testing.T) {
	vllm := strings.ReplaceAll(reasoningThenContent(), `"reasoning_content"`, `"reasoning"`)
	for _, tc := range []struct {
		name, model, reasoning string
		body                   []byte
		fromMark               int
	}{
		{"model", "deepseek-v4-flash", "", sseAnswer(20), 17},
		{"model, role in every chunk", "deepseek-v4-flash", "", []byte(roleEveryChunk(17)), 17},
		{"model, usage null", "deepseek-v4-flash", "", sseAnswerWith(20, `,"usage":null`), 17},
		{"reasoning", "deepseek-chat", "reasoning", []byte(vllm), 4},
		{"reasoning and model", "m", "reasoning", []byte(vllm), 4},
		{"model, a call without an id", "m", "", []byte(callWithoutID(`{"index":0,"function":{"arguments":%q}}`)), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &readingSink{t: t}
			if _, err := memGatewayWith(tc.body, tc.model, tc.reasoning).Stream(context.Background(), streamCall(t, true)(), sink); err != nil {
				t.Fatal(err)
			}
			if sink.fromMark != tc.fromMark || sink.templated == 0 {
				t.Errorf("%d templates, %d chunks by Same, %d read from the mark; want %d", sink.templated, sink.same, sink.fromMark, tc.fromMark)
			}
			var want []string
			for _, line := range strings.Split(string(tc.body), "\n") {
				p, ok := strings.CutPrefix(line, "data: ")
				if !ok || p == "[DONE]" {
					continue
				}
				b := []byte(p)
				if tc.reasoning != "" {
					b = openai.RenameKey(b, "reasoning", "reasoning_content")
				}
				if tc.model != "deepseek-chat" {
					var err error
					if b, err = openai.SetField(b, "model", []byte(`"deepseek-chat"`)); err != nil {
						t.Fatal(err)
					}
				}
				want = append(want, string(b))
			}
			if got := strings.Join(sink.sent, "\n"); got != strings.Join(want, "\n") {
				t.Errorf("sent\n%s\nwant\n%s", got, strings.Join(want, "\n"))
			}
		})
	}
}

// An empty data event mid-stream goes through the relay (whatever the
// rewrites) as it came: no crash (a review's repro).
func TestRelayEmptyEvent(t *testing.T) {
	body := []byte("data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata:\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n\ndata: [DONE]\n\n")
	for _, model := range []string{"deepseek-chat", "other"} {
		sink := &discardSink{}
		if _, err := memGatewayWith(body, model, "").Stream(context.Background(), streamCall(t, true)(), sink); err != nil {
			t.Fatal(err)
		}
		if sink.events != 4 {
			t.Errorf("%s: %d events, want 4", model, sink.events)
		}
	}
}

// roleEveryChunk is sseAnswer's stream with the role in every chunk, as
// Ollama sends it.
func roleEveryChunk(n int) string {
	const head = `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":`
	s := head + `""},"finish_reason":null}]}` + "\n\n"
	for i := range n {
		s += head + fmt.Sprintf(`"tok%d "},"finish_reason":null}]}`, i) + "\n\n"
	}
	return s + `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n"
}

// reasoningThenContent changes its text's field half way: the template
// (and the mark) change with it.
func reasoningThenContent() string {
	const head = `data: {"id":"c","choices":[{"index":0,"delta":{`
	s := head + `"role":"assistant","reasoning_content":"a"}}]}` + "\n\n"
	for _, t := range []string{"b", "c"} {
		s += head + `"reasoning_content":"` + t + `"}}]}` + "\n\n"
	}
	for _, t := range []string{"d", "e", "f"} {
		s += head + `"content":"` + t + `"}}]}` + "\n\n"
	}
	return s + "data: [DONE]\n\n"
}

// callWithoutID is a tool call streamed in three argument chunks of the
// form call, as some engines send them: with no id, or an empty one, in
// every chunk (a review's repro).
func callWithoutID(call string) string {
	var s string
	for _, a := range []string{`{`, `"x":1`, `}`} {
		s += `data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[` + fmt.Sprintf(call, a) + `]}}]}` + "\n\n"
	}
	return s + "data: [DONE]\n\n"
}
