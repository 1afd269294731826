package responses

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
		`{"model":"m","input":"hi"}`,
		`{"model":"m","instructions":"be \"brief\"\n","input":[{"role":"developer","content":"rules"},{"type":"message","role":"user","content":[{"type":"input_text","text":"see"},{"type":"input_image","image_url":"https://x/a.png","detail":"low"}]}]}`,
		`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{\"x\":1}"},{"type":"function_call_output","call_id":"c","output":"2"}],"tools":[{"type":"function","name":"f","parameters":{"type":"object"},"strict":true}],"tool_choice":{"type":"function","name":"f"}}`,
		`{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"w","schema":{"type":"object"},"strict":true}},"reasoning":{"effort":"high"},"stream":true,"max_output_tokens":64,"temperature":0.5,"top_p":1,"metadata":{"a":"b"}}`,
		`{"model":"m","input":[{"type":"reasoning","summary":[],"content":[{"type":"reasoning_text","text":"think"}]},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"a"}]}]}`,
	} {
		f.Add([]byte(body))
	}
	for _, body := range hostileResponsesBodies { // chatread_hostile_test.go
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
			var e *openai.Error
			if !errors.As(err, &e) || e.Message != "request body is not valid JSON" {
				t.Fatalf("ToChat(%q) = %v, want the malformed body refused as such", body, err)
			}
		}
	})
}
