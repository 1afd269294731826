package anthropic

import (
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/openai"
)

// The pipeline takes the request ToChat read as it wrote the chat body
// (RequestInfo.Chat) instead of parsing the body: for every request, it is
// what openai.Parse reads from the body, faults that only the chat
// completions rules find included (they are refused as before).
func TestToChatReadsTheChatBodyAsParseDoes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		body, fault string
	}{
		{body: `{"model":"m","max_tokens":5,"system":"s","messages":[{"role":"user","content":"hi"}]}`},
		{body: `{"model":"m","max_tokens":5,"stream":true,"temperature":0,"top_p":0.5,"thinking":{"type":"enabled"},"tools":[{"name":"f","description":"d","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"go"},{"role":"assistant","content":[{"type":"text","text":"x"},{"type":"tool_use","id":"a","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":"ok"}]}]}`},
		{body: `{"model":"m","max_tokens":5,"output_config":{"effort":"high"},"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"prefill"}]}`},
		{body: `{"model":"m","max_tokens":5,"temperature":3,"messages":[{"role":"user","content":"hi"}]}`, fault: "temperature must be between 0 and 2"},
		{body: `{"model":"m","max_tokens":5,"top_p":0,"messages":[{"role":"user","content":"hi"}]}`, fault: "top_p must be greater than 0"},
		{body: `{"model":"m\u0007","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`, fault: "control characters"},
	} {
		chat, info, err := ToChat([]byte(tc.body))
		if err != nil {
			t.Fatalf("ToChat(%s): %v", tc.body, err)
		}
		if err := openai.CheckParsed(chat, info.Chat); err != nil {
			t.Errorf("ToChat(%s): %v", tc.body, err)
		}
		if got := info.Chat.Err; (got == nil) != (tc.fault == "") || got != nil && !strings.Contains(got.Error(), tc.fault) {
			t.Errorf("ToChat(%s): read as %v, want the fault %q", tc.body, got, tc.fault)
		}
	}
}
