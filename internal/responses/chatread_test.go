package responses

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
		{body: `{"model":"m","input":"hi"}`},
		{body: `{"model":"m","instructions":"be brief","stream":true,"max_output_tokens":64,"temperature":0,"top_p":1,"reasoning":{"effort":"high"},"tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"input":[{"role":"developer","content":"rules"},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"2"}]}`},
		{body: `{"model":"m","temperature":2.5,"input":"hi"}`, fault: "temperature must be between 0 and 2"},
		{body: `{"model":"m","top_p":0,"input":"hi"}`, fault: "top_p must be greater than 0"},
		{body: `{"model":"m\u0007","input":"hi"}`, fault: "control characters"},
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
