package chatwire

import (
	"bytes"
	"encoding/json"
	"testing"
)

// Marshal must produce what encoding/json produces for the same Request.
func TestMarshalMatchesEncodingJSON(t *testing.T) {
	f := false
	tr := true
	r := Request{
		Model: "m<&>", MaxTokens: 9, Temperature: json.RawMessage(`0.5`), TopP: json.RawMessage(`1`),
		Stop: []string{"a", "\"b\""}, Stream: true, StreamOptions: &StreamOptions{IncludeUsage: true},
		Messages: []Message{
			{Role: "system", Content: String("sys\n")},
			{Role: "user", Content: Content([]Part{{Text: "x"}, {ImageURL: "data:,", Detail: "low"}})},
			{Role: "assistant", Content: String(""), ReasoningContent: Ptr("why"),
				ToolCalls: []ToolCall{{ID: "c1", Type: "function", Function: Function{Name: "f", Arguments: `{"a":"<b>"}`}}}},
			{Role: "tool", ToolCallID: "c1", Content: String("ok")},
		},
		Tools: []Tool{{Type: "function", Function: FunctionDef{Name: "f", Description: json.RawMessage(`"d"`),
			Parameters: json.RawMessage(`{"type":"object"}`), Strict: &tr}},
			{Type: "function", Function: FunctionDef{Name: "g"}}},
		ToolChoice: json.RawMessage(`"auto"`), ParallelToolCalls: &f,
		ResponseFormat: json.RawMessage(`{"type":"json_object"}`), Thinking: json.RawMessage(`{"type":"enabled"}`),
		ReasoningEffort: "high", User: "u",
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&r); err != nil {
		t.Fatal(err)
	}
	got := r.Marshal()
	if !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
		t.Errorf("Marshal:\n got %s\nwant %s", got, want.Bytes())
	}
	if empty := (&Request{Model: "m"}).Marshal(); string(empty) != `{"model":"m","messages":[]}` {
		t.Errorf("empty request: %s", empty)
	}
}
