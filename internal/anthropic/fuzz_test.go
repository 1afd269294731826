package anthropic

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/dsgate/dsgate/internal/openai"
)

// FuzzToChatIsValidJSON: whatever request ToChat accepts, its chat body is
// valid JSON, and the request read as it was written (RequestInfo.Chat,
// which the pipeline takes instead of reading the body) is what
// openai.Parse reads from it, or the same fault.
func FuzzToChatIsValidJSON(f *testing.F) {
	for _, body := range []string{
		`{"model":"m","max_tokens":5,"system":"be \"brief\"\n","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"go"},{"role":"assistant","content":[{"type":"text","text":"calling"},{"type":"tool_use","id":"a","name":"f","input":{"x":1}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","is_error":true,"content":[{"type":"text","text":"boom"}]}]}]}`,
		`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"what?"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}},{"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]}]}`,
		`{"model":"m","max_tokens":5,"stream":true,"stop_sequences":["x"],"temperature":0.2,"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"},"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"m","max_tokens":5,"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"sig"},{"type":"text","text":"a"}]},{"role":"user","content":"more"}]}`,
	} {
		f.Add([]byte(body))
	}
	for _, body := range hostileMessagesBodies { // chatread_hostile_test.go
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		chat, info, err := ToChat(body)
		if err == nil && !json.Valid(chat) {
			t.Fatalf("ToChat(%s) = %s: not valid JSON", body, chat)
		}
		if err == nil {
			if err := openai.CheckParsed(chat, info.Chat); err != nil {
				t.Fatalf("ToChat(%s) = %s: %v", body, chat, err)
			}
		}
		// The walk validates what it reads and skips (no pass of its own
		// before): a malformed body is refused, as malformed.
		if !json.Valid(body) {
			var e *Error
			if !errors.As(err, &e) || e.Message != "request body is not valid JSON" {
				t.Fatalf("ToChat(%q) = %v, want the malformed body refused as such", body, err)
			}
		}
	})
}
