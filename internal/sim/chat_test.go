package sim

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestChatNonStreamShape(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	body := `{"model":"deepseek-chat","temperature":0.3,"n":1,"seed":7,"messages":[
		{"role":"system","content":"be brief"},
		{"role":"user","content":[{"type":"text","text":"hello there"},{"type":"text","text":"friend"}]}]}`
	for _, path := range []string{"/v1/chat/completions", "/chat/completions", "/beta/chat/completions"} {
		rec := do(t, s, http.MethodPost, path, body)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", path, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		var got chatCompletionJSON
		decodeStrict(t, rec.Body.Bytes(), &got)
		if !hexID.MatchString(got.ID) {
			t.Errorf("id %q is not 32 hex digits", got.ID)
		}
		if got.Object != "chat.completion" || got.Model != "deepseek-chat" ||
			got.SystemFingerprint != "fp_dsgate_sim" || got.Created != fixedTime.Unix() {
			t.Errorf("head = %q %q %q %d", got.Object, got.Model, got.SystemFingerprint, got.Created)
		}
		if len(got.Choices) != 1 {
			t.Fatalf("choices = %d", len(got.Choices))
		}
		ch := got.Choices[0]
		if ch.Message.Role != "assistant" || ch.Message.Content == nil || ch.FinishReason != "stop" ||
			string(ch.Logprobs) != "null" {
			t.Errorf("choice = %+v", ch)
		}
		if ch.Message.ReasoningContent != nil || ch.Message.Reasoning != nil || ch.Message.ToolCalls != nil {
			t.Errorf("non-reasoning model returned extra fields: %s", rec.Body)
		}
		if n := words(*ch.Message.Content); n != 16 {
			t.Errorf("default answer has %d words, want 16", n)
		}
		// system "be brief" = 2+4, user "hello there\nfriend" = 3+4.
		want := usageJSON{PromptTokens: 13, CompletionTokens: 16, TotalTokens: 29,
			PromptCacheHitTokens: 6, PromptCacheMissTokens: 7}
		want.PromptTokensDetails.CachedTokens = 6
		if diff := cmp.Diff(want, got.Usage); diff != "" {
			t.Errorf("usage (-want +got):\n%s", diff)
		}
	}
}

func chatContent(t *testing.T, s *Server, body string) chatCompletionJSON {
	t.Helper()
	rec := do(t, s, http.MethodPost, "/v1/chat/completions", body)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var got chatCompletionJSON
	decodeStrict(t, rec.Body.Bytes(), &got)
	return got
}

func TestChatDeterministic(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{Models: []string{"deepseek-chat", "other-chat"}})
	req := func(model, text string) string {
		return `{"model":"` + model + `","messages":[{"role":"user","content":"` + text + `"}]}`
	}
	a := chatContent(t, s, req("deepseek-chat", "hi"))
	b := chatContent(t, New(Options{}), req("deepseek-chat", "hi")) // another server instance
	if *a.Choices[0].Message.Content != *b.Choices[0].Message.Content {
		t.Errorf("same request, different text: %q vs %q", *a.Choices[0].Message.Content, *b.Choices[0].Message.Content)
	}
	if a.ID == chatContent(t, s, req("deepseek-chat", "hi")).ID {
		t.Error("two responses share an id")
	}
	// Escaped and plain spellings of the same text are the same prompt.
	if c := chatContent(t, s, req("deepseek-chat", `\u0068i`)); *c.Choices[0].Message.Content != *a.Choices[0].Message.Content {
		t.Error("escaped prompt changed the answer")
	}
	for _, other := range []string{req("deepseek-chat", "hello"), req("other-chat", "hi")} {
		c := chatContent(t, s, other)
		if *c.Choices[0].Message.Content == *a.Choices[0].Message.Content {
			t.Errorf("%s: same text as a different request", other)
		}
	}
}

func TestChatMaxTokens(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		model         string
		limit         string
		wantFinish    string
		wantContent   int
		wantReasoning int
	}{
		{"default", "deepseek-chat", "", "stop", 16, 0},
		{"max_tokens", "deepseek-chat", `"max_tokens":5,`, "length", 5, 0},
		{"max_completion_tokens wins", "deepseek-chat", `"max_tokens":9,"max_completion_tokens":3,`, "length", 3, 0},
		{"reasoner default", "deepseek-reasoner", "", "stop", 8, 8},
		{"reasoner limited", "deepseek-reasoner", `"max_tokens":11,`, "length", 6, 5},
	}
	s := newTestServer(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := `{"model":"` + tt.model + `",` + tt.limit + `"messages":[{"role":"user","content":"count"}]}`
			got := chatContent(t, s, body)
			ch := got.Choices[0]
			reasoning := ""
			if ch.Message.ReasoningContent != nil {
				reasoning = *ch.Message.ReasoningContent
			}
			gotCounts := []any{ch.FinishReason, words(*ch.Message.Content), words(reasoning),
				got.Usage.CompletionTokens, got.Usage.CompletionTokensDetails.ReasoningTokens}
			want := []any{tt.wantFinish, tt.wantContent, tt.wantReasoning,
				tt.wantContent + tt.wantReasoning, tt.wantReasoning}
			if diff := cmp.Diff(want, gotCounts); diff != "" {
				t.Errorf("finish, content, reasoning, completion, reasoning tokens (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChatStream(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	const msgs = `"messages":[{"role":"user","content":"tell me"}],"max_tokens":6`
	rec := do(t, s, http.MethodPost, "/v1/chat/completions",
		`{"model":"deepseek-chat","stream":true,"stream_options":{"include_usage":true},`+msgs+`}`)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	events := parseSSE(t, rec.Body.String())
	if !events.done {
		t.Fatal("no [DONE]")
	}
	chunks := chatChunks(t, events)
	// role chunk, 6 tokens, finish chunk, usage chunk
	if len(chunks) != 9 {
		t.Fatalf("got %d chunks, want 9:\n%s", len(chunks), rec.Body)
	}
	first := chunks[0].Choices[0].Delta
	if first.Role == nil || *first.Role != "assistant" || first.Content == nil || *first.Content != "" {
		t.Errorf("first delta = %+v", first)
	}
	for i, ch := range chunks {
		if ch.ID != chunks[0].ID || ch.Created != fixedTime.Unix() || ch.Object != "chat.completion.chunk" ||
			ch.Model != "deepseek-chat" || ch.SystemFingerprint != "fp_dsgate_sim" {
			t.Errorf("chunk %d head = %+v", i, ch)
		}
	}
	for i, ch := range chunks[1:7] {
		if c := ch.Choices[0].Delta.Content; c == nil || words(*c) != 1 || !strings.HasSuffix(*c, " ") {
			t.Errorf("token chunk %d content = %v", i, c)
		}
	}
	if f := chunks[7].Choices[0].FinishReason; f == nil || *f != "length" {
		t.Errorf("finish chunk = %+v", chunks[7])
	}
	last := chunks[8]
	if len(last.Choices) != 0 || last.Usage == nil || last.Usage.CompletionTokens != 6 {
		t.Errorf("usage chunk = %+v", last)
	}
	for _, ch := range chunks[:8] {
		if ch.Usage != nil {
			t.Errorf("usage on a non-final chunk: %+v", ch)
		}
	}

	// The streamed text equals the non-streamed text; without include_usage
	// there is no usage chunk.
	plain := chatContent(t, s, `{"model":"deepseek-chat",`+msgs+`}`)
	noUsage := chatChunks(t, parseSSE(t, do(t, s, http.MethodPost, "/chat/completions",
		`{"model":"deepseek-chat","stream":true,`+msgs+`}`).Body.String()))
	content, _ := streamText(noUsage)
	if content != *plain.Choices[0].Message.Content {
		t.Errorf("stream text %q != non-stream text %q", content, *plain.Choices[0].Message.Content)
	}
	if len(noUsage) != 8 {
		t.Errorf("without include_usage got %d chunks, want 8", len(noUsage))
	}
}

func TestChatReasoningField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, field string
	}{
		{"deepseek default", ""},
		{"deepseek explicit", "reasoning_content"},
		{"vllm", "reasoning"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newTestServer(t, Options{ReasoningField: tt.field, Models: []string{"deepseek-r1", "deepseek-chat"}})
			want := tt.field
			if want == "" {
				want = "reasoning_content"
			}
			const body = `"messages":[{"role":"user","content":"why"}],"max_tokens":8}`

			rec := do(t, s, http.MethodPost, "/v1/chat/completions", `{"model":"deepseek-r1",`+body)
			var raw struct {
				Choices []struct{ Message map[string]any }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
				t.Fatal(err)
			}
			msg := raw.Choices[0].Message
			if r, ok := msg[want].(string); !ok || words(r) != 4 {
				t.Errorf("message[%q] = %v in %s", want, msg[want], rec.Body)
			}
			if len(msg) != 3 {
				t.Errorf("message has fields %v, want role, content, %s", msg, want)
			}

			rec = do(t, s, http.MethodPost, "/v1/chat/completions", `{"model":"deepseek-r1","stream":true,`+body)
			if strings.Count(rec.Body.String(), `"`+want+`":"`) != 4 {
				t.Errorf("stream does not carry 4 %q deltas:\n%s", want, rec.Body)
			}
			content, reasoning := streamText(chatChunks(t, parseSSE(t, rec.Body.String())))
			if words(content) != 4 || words(reasoning) != 4 {
				t.Errorf("stream content %q reasoning %q", content, reasoning)
			}

			rec = do(t, s, http.MethodPost, "/v1/chat/completions", `{"model":"deepseek-chat","stream":true,`+body)
			if strings.Contains(rec.Body.String(), `"`+want+`"`) {
				t.Errorf("non-reasoning model streamed %q", want)
			}
		})
	}
}

func TestChatToolCalls(t *testing.T) {
	t.Parallel()
	const tools = `"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}},
		{"type":"function","function":{"name":"get_time"}}]`
	tests := []struct {
		name     string
		extra    string
		messages string
		wantTool string // "" = plain answer
	}{
		{"weather auto", "", `[{"role":"user","content":"What is the Weather in Paris?"}]`, "get_weather"},
		{"no weather", "", `[{"role":"user","content":"hello"}]`, ""},
		{"tool named", "", `[{"role":"user","content":"call GET_TIME now"}]`, "get_time"},
		{"word of a tool name", "", `[{"role":"user","content":"what time is it?"}]`, "get_time"},
		{"short words do not count", "", `[{"role":"user","content":"get me a coffee"}]`, ""},
		{"after tool result", "", `[{"role":"user","content":"weather?"},
			{"role":"assistant","content":"","tool_calls":[{"id":"c","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
			{"role":"tool","tool_call_id":"c","content":"sunny"}]`, ""},
		{"none", `"tool_choice":"none",`, `[{"role":"user","content":"weather"}]`, ""},
		{"required", `"tool_choice":"required",`, `[{"role":"user","content":"hello"}]`, "get_weather"},
		{"named", `"tool_choice":{"type":"function","function":{"name":"get_time"}},`,
			`[{"role":"user","content":"hello"}]`, "get_time"},
	}
	s := newTestServer(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := `{"model":"deepseek-chat",` + tools + `,` + tt.extra + `"messages":` + tt.messages
			got := chatContent(t, s, base+`}`)
			ch := got.Choices[0]
			if tt.wantTool == "" {
				if ch.FinishReason != "stop" || len(ch.Message.ToolCalls) != 0 {
					t.Errorf("want a plain answer, got %+v", ch)
				}
				return
			}
			if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 {
				t.Fatalf("want one tool call, got %+v", ch)
			}
			call := ch.Message.ToolCalls[0]
			if !strings.HasPrefix(call.ID, "call_") || call.Type != "function" || call.Function.Name != tt.wantTool ||
				call.Function.Arguments == nil || !json.Valid([]byte(*call.Function.Arguments)) {
				t.Errorf("tool call = %+v", call)
			}

			rec := do(t, s, http.MethodPost, "/v1/chat/completions", base+`,"stream":true}`)
			events := parseSSE(t, rec.Body.String())
			streamed := collectToolCall(t, chatChunks(t, events))
			if diff := cmp.Diff(call, streamed); diff != "" {
				t.Errorf("streamed call differs (-non-stream +stream):\n%s", diff)
			}
		})
	}
}

// collectToolCall rebuilds the single streamed tool call the way SDKs do:
// by index, concatenating argument fragments.
func collectToolCall(t *testing.T, chunks []chatChunkJSON) toolCallJSON {
	t.Helper()
	var call toolCallJSON
	args, fragments, finish := "", 0, ""
	for _, ch := range chunks {
		if len(ch.Choices) == 0 {
			continue
		}
		c := ch.Choices[0]
		if c.FinishReason != nil {
			finish = *c.FinishReason
		}
		for _, d := range c.Delta.ToolCalls {
			if d.Index == nil || *d.Index != 0 {
				t.Fatalf("tool delta without stable index 0: %+v", d)
			}
			if fragments == 0 {
				if d.ID == "" || d.Type != "function" || d.Function.Name == "" ||
					d.Function.Arguments == nil || *d.Function.Arguments != "" {
					t.Fatalf("first tool delta = %+v", d)
				}
				call.ID, call.Type, call.Function.Name = d.ID, d.Type, d.Function.Name
			} else if d.ID != "" || d.Function.Name != "" {
				t.Errorf("later delta repeats id or name: %+v", d)
			}
			if d.Function.Arguments != nil {
				args += *d.Function.Arguments
			}
			fragments++
		}
	}
	if fragments < 3 {
		t.Errorf("arguments came in %d deltas, want several", fragments)
	}
	if finish != "tool_calls" {
		t.Errorf("finish_reason = %q", finish)
	}
	if !json.Valid([]byte(args)) {
		t.Errorf("concatenated arguments %q are not JSON", args)
	}
	call.Function.Arguments = &args
	return call
}

func TestChatReasoningToolCall(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	body := `{"model":"deepseek-reasoner","max_tokens":4,"stream":true,"tools":[{"type":"function","function":{"name":"f"}}],
		"messages":[{"role":"user","content":"weather"}]}`
	chunks := chatChunks(t, parseSSE(t, do(t, s, http.MethodPost, "/v1/chat/completions", body).Body.String()))
	_, reasoning := streamText(chunks)
	if words(reasoning) != 2 {
		t.Errorf("reasoning before the call = %q", reasoning)
	}
	collectToolCall(t, chunks)
}

// With AnswerTokens a large limit is not filled: the answer ends on its
// own with "stop" (what agents setting max_tokens 32000 need); a smaller
// limit is still filled exactly.
func TestChatAnswerTokens(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{AnswerTokens: 7})
	for _, c := range []struct {
		limit  string
		finish string
		n      int
	}{{`"max_tokens":32000,`, "stop", 7}, {`"max_tokens":4,`, "length", 4}} {
		got := chatContent(t, s, `{"model":"deepseek-chat",`+c.limit+`"messages":[{"role":"user","content":"count"}]}`)
		ch := got.Choices[0]
		if ch.FinishReason != c.finish || words(*ch.Message.Content) != c.n {
			t.Errorf("%s: finish %q, %d words", c.limit, ch.FinishReason, words(*ch.Message.Content))
		}
	}
}
