package anthropic

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dsgate/dsgate/internal/openai"
)

// chatOf translates body and decodes the chat request into generic JSON.
func chatOf(t *testing.T, body string) (map[string]any, RequestInfo) {
	t.Helper()
	out, info, err := ToChat([]byte(body))
	if err != nil {
		t.Fatalf("ToChat: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("ToChat produced invalid JSON %s: %v", out, err)
	}
	return m, info
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestToChatFields(t *testing.T) {
	tests := []struct {
		name string
		body string
		key  string
		want string
	}{
		{"stop sequences", `{"model":"m","max_tokens":5,"stop_sequences":["END","##"],"messages":[{"role":"user","content":"hi"}]}`, "stop", `["END","##"]`},
		{"max_tokens", `{"model":"m","max_tokens":77,"messages":[{"role":"user","content":"hi"}]}`, "max_tokens", `77`},
		{"temperature kept exactly", `{"model":"m","max_tokens":5,"temperature":0.70,"messages":[{"role":"user","content":"hi"}]}`, "temperature", `0.7`},
		{"top_p", `{"model":"m","max_tokens":5,"top_p":0.9,"top_k":40,"messages":[{"role":"user","content":"hi"}]}`, "top_p", `0.9`},
		{"top_k dropped", `{"model":"m","max_tokens":5,"top_k":40,"messages":[{"role":"user","content":"hi"}]}`, "top_k", `null`},
		{"metadata dropped", `{"model":"m","max_tokens":5,"metadata":{"user_id":"u"},"messages":[{"role":"user","content":"hi"}]}`, "metadata", `null`},
		{"thinking enabled", `{"model":"m","max_tokens":5,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"hi"}]}`, "thinking", `{"type":"enabled"}`},
		{"thinking adaptive", `{"model":"m","max_tokens":5,"thinking":{"type":"adaptive"},"messages":[{"role":"user","content":"hi"}]}`, "thinking", `{"type":"enabled"}`},
		{"thinking disabled", `{"model":"m","max_tokens":5,"thinking":{"type":"disabled"},"messages":[{"role":"user","content":"hi"}]}`, "thinking", `{"type":"disabled"}`},
		{"effort", `{"model":"m","max_tokens":5,"output_config":{"effort":"max"},"messages":[{"role":"user","content":"hi"}]}`, "reasoning_effort", `"max"`},
		{"stream asks for usage", `{"model":"m","max_tokens":5,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "stream_options", `{"include_usage":true}`},
		{"tool_choice any", `{"model":"m","max_tokens":5,"tool_choice":{"type":"any"},"messages":[{"role":"user","content":"hi"}]}`, "tool_choice", `"required"`},
		{"tool_choice none", `{"model":"m","max_tokens":5,"tool_choice":{"type":"none"},"messages":[{"role":"user","content":"hi"}]}`, "tool_choice", `"none"`},
		{"tool_choice tool", `{"model":"m","max_tokens":5,"tool_choice":{"type":"tool","name":"f"},"messages":[{"role":"user","content":"hi"}]}`, "tool_choice", `{"function":{"name":"f"},"type":"function"}`},
		{"no parallel tools", `{"model":"m","max_tokens":5,"tool_choice":{"type":"auto","disable_parallel_tool_use":true},"messages":[{"role":"user","content":"hi"}]}`, "parallel_tool_calls", `false`},
		{"system blocks", `{"model":"m","max_tokens":5,"system":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"messages":[{"role":"user","content":"hi"}]}`, "messages", `[{"content":"a\nb","role":"system"},{"content":"hi","role":"user"}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := chatOf(t, tt.body)
			if got := jsonOf(t, m[tt.key]); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.key, got, tt.want)
			}
		})
	}
}

// A user turn with tool results and text: the tool messages must directly
// follow the assistant's tool calls, before the user's text.
func TestToChatToolResultsFirst(t *testing.T) {
	m, _ := chatOf(t, `{"model":"m","max_tokens":5,"messages":[
		{"role":"user","content":"go"},
		{"role":"assistant","content":[{"type":"text","text":"calling"},{"type":"tool_use","id":"a","name":"f","input":{"x":1}},{"type":"tool_use","id":"b","name":"g","input":{}}]},
		{"role":"user","content":[{"type":"text","text":"here you are"},{"type":"tool_result","tool_use_id":"a","content":"1"},{"type":"tool_result","tool_use_id":"b","is_error":true,"content":[{"type":"text","text":"boom"}]}]}]}`)
	got := jsonOf(t, m["messages"])
	want := `[{"content":"go","role":"user"},` +
		`{"content":"calling","reasoning_content":"","role":"assistant","tool_calls":[{"function":{"arguments":"{\"x\":1}","name":"f"},"id":"a","type":"function"},{"function":{"arguments":"{}","name":"g"},"id":"b","type":"function"}]},` +
		`{"content":"1","role":"tool","tool_call_id":"a"},{"content":"boom","role":"tool","tool_call_id":"b"},` +
		`{"content":"here you are","role":"user"}]`
	if got != want {
		t.Errorf("messages:\n got %s\nwant %s", got, want)
	}
}

func TestToChatImages(t *testing.T) {
	m, _ := chatOf(t, `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[
		{"type":"text","text":"what is this?"},
		{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},
		{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}]}`)
	got := jsonOf(t, m["messages"])
	want := `[{"content":[{"text":"what is this?","type":"text"},{"image_url":{"url":"data:image/png;base64,AAAA"},"type":"image_url"},{"image_url":{"url":"https://example.com/a.png"},"type":"image_url"}],"role":"user"}]`
	if got != want {
		t.Errorf("messages:\n got %s\nwant %s", got, want)
	}
}

func TestToChatThinkingRoundTrip(t *testing.T) {
	const text = "let me think"
	sig := Signature(text)
	body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[
		{"type":"thinking","thinking":"` + text + `","signature":"` + sig + `"},
		{"type":"redacted_thinking","data":"opaque"},{"type":"text","text":"a"}]},{"role":"user","content":"more"}]}`
	m, _ := chatOf(t, body)
	msgs := m["messages"].([]any)
	asst := msgs[1].(map[string]any)
	if asst["reasoning_content"] != text || asst["content"] != "a" {
		t.Errorf("assistant message %v", asst)
	}

	// A foreign signature (from Anthropic itself) is accepted as is.
	foreign := strings.Replace(body, sig, "EqoBCkgIARABGAIiQL2UoU0b1OHYi", 1)
	if _, _, err := ToChat([]byte(foreign)); err != nil {
		t.Errorf("foreign signature: %v", err)
	}
	// Our signature over different text: the block was edited.
	edited := strings.Replace(body, `"thinking":"`+text, `"thinking":"let me cheat`, 1)
	_, _, err := ToChat([]byte(edited))
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !errors.Is(err, errSignature) {
		t.Errorf("edited thinking: err = %v, want a 400 wrapping errSignature", err)
	}
}

func TestToChatErrors(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"not json", `{`, "request body is not valid JSON"},
		{"wrong type", `{"model":1}`, "model: expected string"},
		{"no model", `{"max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, "model: field required"},
		{"no max_tokens", `{"model":"m","messages":[{"role":"user","content":"x"}]}`, "max_tokens: field required"},
		{"no messages", `{"model":"m","max_tokens":5,"messages":[]}`, "messages: at least one"},
		{"bad role", `{"model":"m","max_tokens":5,"messages":[{"role":"tool","content":"x"}]}`, "messages.0.role"},
		{"bad block", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document"}]}]}`, "messages.0.content.0.type: document is not supported"},
		{"tool without name", `{"model":"m","max_tokens":5,"tools":[{"input_schema":{}}],"messages":[{"role":"user","content":"x"}]}`, "tools.0.name: field required"},
		{"bad thinking", `{"model":"m","max_tokens":5,"thinking":{"type":"on"},"messages":[{"role":"user","content":"x"}]}`, "thinking.type"},
		{"tool_result without id", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`, "tool_use_id: field required"},
		// Keys a relayed body would be read differently by (key smuggling).
		{"escaped key", `{"model":"m","max_tokens":5,"max_tok\u0065ns":100000,"messages":[{"role":"user","content":"x"}]}`, "max_tok\\u0065ns: a key must be written without escapes"},
		{"escaped key alone", `{"model":"m","str\u0065am":true,"max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, "without escapes"},
		{"duplicate key", `{"model":"m","max_tokens":5,"stream":false,"stream":true,"messages":[{"role":"user","content":"x"}]}`, "duplicate key"},
		{"case variant", `{"model":"m","max_tokens":5,"Max_Tokens":9,"messages":[{"role":"user","content":"x"}]}`, "Max_Tokens"},
		{"message escaped key", `{"model":"m","max_tokens":5,"messages":[{"role":"user","cont\u0065nt":"y","content":"x"}]}`, "messages.0.cont\\u0065nt: a key must be written without escapes"},
		{"message duplicate key", `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"y","content":"x"}]}`, "messages.0.content: duplicate key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ToChat([]byte(tt.body))
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if ae.Status != 400 || ae.Type != "invalid_request_error" || !strings.Contains(ae.Message, tt.want) {
				t.Errorf("got %d %s %q, want 400 invalid_request_error containing %q", ae.Status, ae.Type, ae.Message, tt.want)
			}
			var env struct {
				Type  string
				Error struct{ Type, Message string }
			}
			if err := json.Unmarshal(ae.JSON(), &env); err != nil || env.Type != "error" || env.Error.Type != ae.Type {
				t.Errorf("JSON() = %s", ae.JSON())
			}
		})
	}
}

func TestFromOpenAIError(t *testing.T) {
	tests := []struct {
		status int
		want   string
	}{
		{400, "invalid_request_error"}, {401, "authentication_error"}, {402, "billing_error"},
		{403, "permission_error"}, {404, "not_found_error"}, {413, "request_too_large"},
		{429, "rate_limit_error"}, {500, "api_error"}, {502, "api_error"}, {503, "overloaded_error"},
		{504, "timeout_error"}, {529, "overloaded_error"},
	}
	for _, tt := range tests {
		e := FromOpenAIError(openai.NewError(tt.status, "m", ""))
		if e.Status != tt.status || e.Type != tt.want || e.Message != "m" {
			t.Errorf("%d: got %d %s %q, want %s", tt.status, e.Status, e.Type, e.Message, tt.want)
		}
	}
	e := ErrorFromChat(429, []byte(`{"error":{"message":"slow down","type":"rate_limit_error"}}`))
	if got := string(e.JSONWithRequestID("req_1")); got != `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"},"request_id":"req_1"}` {
		t.Errorf("JSONWithRequestID: %s", got)
	}
	if got := string(e.JSON()); got != `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}` {
		t.Errorf("ErrorFromChat: %s", got)
	}
}

func TestFromChatStopReasonsAndInput(t *testing.T) {
	tests := []struct{ finish, args, stop, input string }{
		{"stop", `{"a":1}`, "end_turn", `{"a":1}`},
		{"length", ``, "max_tokens", `{}`},
		{"tool_calls", `not json`, "tool_use", `{"_raw":"not json"}`},
		{"content_filter", `{}`, "refusal", `{}`},
		{"insufficient_system_resource", `{}`, "end_turn", `{}`},
	}
	for _, tt := range tests {
		args, _ := json.Marshal(tt.args)
		body := `{"id":"x","model":"m","choices":[{"message":{"content":"hi","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":` + string(args) + `}}]},"finish_reason":"` + tt.finish + `"}],"usage":{"prompt_tokens":10,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":4}}}`
		out, err := FromChat([]byte(body), RequestInfo{})
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			StopReason string `json:"stop_reason"`
			Content    []struct {
				Type  string
				Input json.RawMessage
			}
			Usage map[string]int
		}
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		if m.StopReason != tt.stop || string(m.Content[1].Input) != tt.input {
			t.Errorf("%s: stop %s input %s, want %s %s", tt.finish, m.StopReason, m.Content[1].Input, tt.stop, tt.input)
		}
		want := map[string]int{"input_tokens": 6, "cache_read_input_tokens": 4, "cache_creation_input_tokens": 0, "output_tokens": 3}
		if diff := cmp.Diff(want, m.Usage); diff != "" {
			t.Errorf("usage (-want +got):\n%s", diff)
		}
	}
	if _, err := FromChat([]byte(`<html>`), RequestInfo{}); err == nil {
		t.Error("FromChat accepted a non-JSON body")
	}
}

func TestCountTokens(t *testing.T) {
	out, err := CountTokens([]byte(`{"model":"m","system":"You are terse.","messages":[{"role":"user","content":"Hello there, how are you?"},{"role":"assistant","content":[{"type":"text","text":"你好"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		InputTokens int `json:"input_tokens"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	// 14 system + 25 user ASCII chars at 0.3, 2 CJK at 0.6, 2 messages at 4.
	want := (39*3 + 2*6 + 2*40 + 9) / 10
	if r.InputTokens != want {
		t.Errorf("input_tokens = %d, want %d", r.InputTokens, want)
	}
	if _, err := CountTokens([]byte(`{"model":"m","messages":[]}`)); err == nil {
		t.Error("empty messages accepted")
	}
}

func TestToChatDropsServerTools(t *testing.T) {
	m, info := chatOf(t, `{"model":"m","max_tokens":5,"tools":[{"type":"web_search_20250305","name":"web_search"},{"name":"f","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"x"}]}`)
	if got := jsonOf(t, m["tools"]); got != `[{"function":{"name":"f","parameters":{"type":"object"}},"type":"function"}]` {
		t.Errorf("tools %s", got)
	}
	if diff := cmp.Diff([]string{"web_search_20250305"}, info.DroppedTools); diff != "" {
		t.Errorf("DroppedTools (-want +got):\n%s", diff)
	}
}

// Chat tool messages carry text only: a tool result's images move to the
// user message that follows the turn's tool messages, and the tool message
// says so.
func TestToChatToolResultImages(t *testing.T) {
	m, _ := chatOf(t, `{"model":"m","max_tokens":5,"messages":[
		{"role":"user","content":"shot"},
		{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"screenshot","input":{}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"here"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}]}]}`)
	msgs := m["messages"].([]any)
	if got := jsonOf(t, msgs[2]); got != `{"content":"here\n[1 image(s) from this tool result are attached to the next user message]","role":"tool","tool_call_id":"a"}` {
		t.Errorf("tool message %s", got)
	}
	if got := jsonOf(t, msgs[3]); got != `{"content":[{"text":"[image(s) from tool result a]","type":"text"},{"image_url":{"url":"data:image/png;base64,AAAA"},"type":"image_url"}],"role":"user"}` {
		t.Errorf("user message %s", got)
	}
}

// Claude Code sends a system message among the messages (its agent list).
func TestToChatSystemMessageAmongMessages(t *testing.T) {
	chat, _, err := ToChat([]byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"a"},
		{"role":"system","content":[{"type":"text","text":"agents"}]},{"role":"user","content":"b"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(chat), `"messages":[{"role":"system","content":"agents"},{"role":"user","content":"a"},{"role":"user","content":"b"}]`) {
		t.Errorf("chat %s", chat)
	}
	// Several, after the top-level system prompt: they join it in their
	// order, the conversation keeps its own.
	chat, _, err = ToChat([]byte(`{"model":"m","max_tokens":5,"system":"s0","messages":[{"role":"user","content":"a"},
		{"role":"system","content":"s1"},{"role":"assistant","content":"b"},{"role":"system","content":"s2"},{"role":"user","content":"c"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `"messages":[{"role":"system","content":"s0"},{"role":"system","content":"s1"},{"role":"system","content":"s2"},` +
		`{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":"c"}]`
	if !strings.Contains(string(chat), want) {
		t.Errorf("chat %s", chat)
	}
}

// BenchmarkToChatSystemAmongMessages: thousands of system messages among
// the messages are joined to the leading ones in one move (each moved as it
// came made this quadratic: 1.8 s for this body, a tenant's CPU before any
// check of its model or limits).
func BenchmarkToChatSystemAmongMessages(b *testing.B) {
	var body strings.Builder
	body.WriteString(`{"model":"m","max_tokens":8,"messages":[`)
	const n = 6000
	for i := range 2 * n {
		if i > 0 {
			body.WriteByte(',')
		}
		if i < n {
			body.WriteString(`{"role":"user","content":"a"}`)
		} else {
			body.WriteString(`{"role":"system","content":"a"}`)
		}
	}
	body.WriteString(`]}`)
	in := []byte(body.String())
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, _, err := ToChat(in); err != nil {
			b.Fatal(err)
		}
	}
}
