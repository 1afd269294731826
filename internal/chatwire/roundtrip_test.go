package chatwire_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dsgate/dsgate/internal/anthropic"
	"github.com/dsgate/dsgate/internal/responses"
)

// TestTableRoundTrip closes the loop: the assistant turn a client receives
// (Message content, Response output items), sent back as history in the
// next request, becomes the chat assistant message the upstream produced,
// reasoning included (DeepSeek rejects a tool-call turn without it).
func TestTableRoundTrip(t *testing.T) {
	wantMsgs, _ := chatMessages(t, read(t, "chat_request.json"))
	want := wantMsgs[1:] // without the system prompt
	completion := read(t, "chat_response_tool.json")

	msg, err := anthropic.FromChat(completion, anthropic.RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatal(err)
	}
	next := `{"model":"deepseek-chat","max_tokens":100,"messages":[` +
		`{"role":"user","content":"What is the weather in Paris?"},` +
		`{"role":"assistant","content":` + string(m.Content) + `},` +
		`{"role":"user","content":[{"type":"tool_result","tool_use_id":"call_1","content":"sunny, 21C"}]}]}`
	chat, _, err := anthropic.ToChat([]byte(next))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := chatMessages(t, chat)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Messages round trip (-want +got):\n%s", diff)
	}

	resp, err := responses.FromChat(completion, responses.RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Output []json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(resp, &r); err != nil {
		t.Fatal(err)
	}
	input := `[{"role":"user","content":"What is the weather in Paris?"}`
	for _, it := range r.Output {
		input += "," + string(it)
	}
	input += `,{"type":"function_call_output","call_id":"call_1","output":"sunny, 21C"}]`
	chat, _, err = responses.ToChat([]byte(`{"model":"deepseek-chat","input":` + input + `}`))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = chatMessages(t, chat)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Responses round trip (-want +got):\n%s", diff)
	}
}
