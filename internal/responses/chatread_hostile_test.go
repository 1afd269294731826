package responses

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/openai"
)

// hostileResponsesBodies are Responses requests at the edges of what the
// chat completions rules check: each one's reading (RequestInfo.Chat) must
// be what openai.Parse reads from the chat body ToChat built.
var hostileResponsesBodies = []string{
	// numbers
	`{"model":"m","input":"hi","temperature":1e0}`,
	`{"model":"m","input":"hi","temperature":-0}`,
	`{"model":"m","input":"hi","temperature":-0.0}`,
	`{"model":"m","input":"hi","temperature":0e5}`,
	`{"model":"m","input":"hi","temperature":2.0000000000000000001}`,
	`{"model":"m","input":"hi","temperature":2.0000000001}`,
	`{"model":"m","input":"hi","temperature":1e400}`,
	`{"model":"m","input":"hi","temperature":-1e-400}`,
	`{"model":"m","input":"hi","temperature":3}`,
	`{"model":"m","input":"hi","temperature":-1}`,
	`{"model":"m","input":"hi","top_p":1e-400}`,
	`{"model":"m","input":"hi","top_p":-0}`,
	`{"model":"m","input":"hi","top_p":1.0000000000000001}`,
	`{"model":"m","input":"hi","top_p":1e2}`,
	`{"model":"m","input":"hi","top_p":0.0, "temperature":5}`,
	`{"model":"m","input":"hi","temperature":null,"top_p":null}`,
	`{"model":"m","input":"hi","max_output_tokens":1}`,
	`{"model":"m","input":"hi","max_output_tokens":null}`,
	`{"model":"m","input":"hi","max_output_tokens":99999999999999999999}`,
	`{"model":"m","input":"hi","max_output_tokens":1e2}`,
	// model names
	`{"model":"m\u0000","input":"hi"}`,
	`{"model":"m\u007f","input":"hi"}`,
	`{"model":"m\u0085","input":"hi"}`,
	`{"model":"m\u2028x","input":"hi"}`,
	`{"model":"m\ud800","input":"hi"}`,
	"{\"model\":\"m\xff\",\"input\":\"hi\"}",
	"{\"model\":\"m\xc3\",\"input\":\"hi\"}",
	`{"model":"` + strings.Repeat("a", 256) + `","input":"hi"}`,
	`{"model":"` + strings.Repeat("a", 257) + `","input":"hi"}`,
	`{"model":"` + strings.Repeat("\u00e9", 128) + `","input":"hi"}`,
	`{"model":"` + strings.Repeat("\\u00e9", 129) + `","input":"hi"}`,
	`{"model":"` + strings.Repeat("\\\"", 200) + `","input":"hi"}`,
	`{"model":" ","input":"hi"}`,
	`{"model":"","input":"hi"}`,
	`{"model":"m","model":"n","input":"hi"}`,
	`{"model":"m","Model":"n","input":"hi"}`,
	`{"model":"m","input":"hi","temperature":3,"model":"\u0001"}`,
	// input shapes
	`{"model":"m","input":""}`,
	`{"model":"m","input":[]}`,
	`{"model":"m","input":null,"instructions":"s"}`,
	`{"model":"m","input":[],"instructions":""}`,
	`{"model":"m","input":[],"instructions":"x"}`,
	`{"model":"m","input":[{"role":"user","content":null}]}`,
	`{"model":"m","input":[{"role":"user","content":""}]}`,
	`{"model":"m","input":[{"role":"user","content":[]}]}`,
	`{"model":"m","input":[{"role":"assistant","content":null}]}`,
	`{"model":"m","input":[{"role":"assistant","content":[]}]}`,
	`{"model":"m","input":[{"role":"assistant","content":[{"type":"output_text","text":"a"},{"type":"refusal","refusal":"b"}]}]}`,
	`{"model":"m","input":[{"role":"developer","content":"d"},{"role":"system","content":[{"type":"input_text","text":"s"}]}]}`,
	`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"data:x","detail":"high"}]}]}`,
	`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f"}]}`,
	`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":""},{"type":"function_call_output","call_id":"c","output":null}]}`,
	`{"model":"m","input":[{"type":"custom_tool_call","call_id":"c","name":"f","input":"x\u0000"},{"type":"custom_tool_call_output","call_id":"c","output":[{"type":"input_text","text":"t"},{"type":"input_image","image_url":"u"}]}]}`,
	`{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"u"}]}]}`,
	`{"model":"m","input":[{"type":"reasoning","summary":[{"type":"summary_text","text":"s1"},{"type":"summary_text","text":"s2"}]}]}`,
	`{"model":"m","input":[{"type":"reasoning","content":[]}]}`,
	`{"model":"m","input":[{"type":"reasoning","summary":[]},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"}]}`,
	`{"model":"m","input":[{"type":"message","role":"user","content":"a"},{"type":"message","role":"assistant","content":"b"},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"message","role":"assistant","content":"after"}]}`,
	// tools
	`{"model":"m","input":"hi","tools":[]}`,
	`{"model":"m","input":"hi","tools":[{"type":"function","name":"f"}]}`,
	`{"model":"m","input":"hi","tools":[{"type":"function","name":"f","description":"","parameters":null,"strict":false}]}`,
	`{"model":"m","input":"hi","tools":[{"type":"function","name":"f","parameters":{"a":[1,{"b":null}]}}]}`,
	`{"model":"m","input":"hi","tools":[{"type":"custom","name":"c","description":"d"}]}`,
	`{"model":"m","input":"hi","tools":[{"type":"web_search"}]}`,
	`{"model":"m","input":"hi","tools":[{"type":"function","name":"f"}],"tool_choice":"required","parallel_tool_calls":false}`,
	`{"model":"m","input":"hi","tools":[{"type":"function","name":"f"}],"tool_choice":{"type":"custom","name":"f"}}`,
	// formats, reasoning, stream
	`{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"","schema":{},"strict":"x"}}}`,
	`{"model":"m","input":"hi","text":{"format":{"type":"json_object"}}}`,
	`{"model":"m","input":"hi","text":{"format":{"type":"text"}}}`,
	`{"model":"m","input":"hi","reasoning":{"effort":"none"}}`,
	`{"model":"m","input":"hi","reasoning":{"effort":""}}`,
	`{"model":"m","input":"hi","reasoning":{"effort":"\u0000"}}`,
	`{"model":"m","input":"hi","reasoning":{}}`,
	`{"model":"m","input":"hi","stream":false}`,
	`{"model":"m","input":"hi","stream":true,"max_output_tokens":7}`,
	`{"model":"m","input":"hi","user":"u\u0000","metadata":{"a":"b"},"store":false}`,
	` {"model":"m","input":"hi"} `,
}

// Every body of the table: ToChat's reading is Parse's.
func TestHostileToChatReadsAsParse(t *testing.T) {
	t.Parallel()
	for _, body := range hostileResponsesBodies {
		chat, info, err := ToChat([]byte(body))
		if err != nil {
			continue
		}
		if !json.Valid(chat) {
			t.Errorf("ToChat(%s) = %s: not valid JSON", body, chat)
		}
		if err := openai.CheckParsed(chat, info.Chat); err != nil {
			t.Errorf("ToChat(%s) = %s: %v", body, chat, err)
		}
	}
}

// A function tool's parameters are copied into the chat body one
// level deeper than they were (tools[i].parameters becomes
// tools[i].function.parameters). A Responses body nested exactly to
// encoding/json's limit (10000 levels, which ToChat's validator accepts)
// becomes a chat body nested 10001 levels: openai.Parse refuses it as
// malformed JSON ("exceeded max depth"), while RequestInfo.Chat, which the
// pipeline now takes instead of parsing, read it as a valid request: the
// gateway admitted it and sent upstream a body that encoding/json rejects.
// ToChat now refuses a schema too deep for its place in the chat body
// (jsonenc.NestsWithin), and accepts one a level less deep.
func TestHostileToolParametersAtTheNestingLimit(t *testing.T) {
	t.Parallel()
	// body{ tools[ tool{ parameters{ ...: the parameters' first object is
	// level 4, so n objects reach level n+3.
	const n = 9997
	params := strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
	body := `{"model":"m","input":"hi","tools":[{"type":"function","name":"f","parameters":` + params + `}]}`
	if !json.Valid([]byte(body)) {
		t.Fatal("the Responses body is not valid JSON: the test is wrong")
	}
	if _, _, err := ToChat([]byte(body)); err == nil || !strings.Contains(err.Error(), "is nested too deeply") {
		t.Fatalf("ToChat of a schema nested to the limit: %v, want it refused as nested too deeply", err)
	}
	body = strings.Replace(body, `{"a":`, "", 1)
	body = strings.Replace(body, "1}", "1", 1)
	chat, info, err := ToChat([]byte(body))
	if err != nil {
		t.Fatalf("ToChat of a schema one level less deep: %v", err)
	}
	if !json.Valid(chat) {
		t.Errorf("ToChat accepted a body nested %d levels and built a chat body that is not valid JSON (nested %d)", n+3, n+4)
	}
	if err := openai.CheckParsed(chat, info.Chat); err != nil {
		t.Errorf("RequestInfo.Chat differs from openai.Parse of the chat body: %.300v", err)
	}
}
