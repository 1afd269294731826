package anthropic

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/openai"
)

// hostileMessagesBodies are Messages requests at the edges of what the
// chat completions rules check: each one's reading (RequestInfo.Chat) must
// be what openai.Parse reads from the chat body ToChat built.
var hostileMessagesBodies = []string{
	// numbers
	`{"model":"m","max_tokens":5,"temperature":1e0,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"temperature":-0,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"temperature":0.0,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"temperature":0E-0,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"temperature":2,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"temperature":2.0000000000000000001,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"temperature":2.01,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"temperature":1e999,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"temperature":-1e-999,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"top_p":1,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"top_p":1e-320,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"top_p":1e-400,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"top_p":-0.0,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"top_p":1.5,"temperature":9,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"temperature":null,"top_p":null,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":-0,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5.0,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":9223372036854775807,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":9223372036854775808,"messages":[{"role":"user","content":"hi"}]}`,
	// model names
	`{"model":"m\u0000","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m\u009f","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m\udc00\ud800","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
	"{\"model\":\"m\xed\xa0\x80\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	"{\"model\":\"m\xff\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
	`{"model":"` + strings.Repeat("b", 256) + `","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"` + strings.Repeat("b", 257) + `","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"` + strings.Repeat(`\/`, 256) + `","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"` + strings.Repeat(`\n`, 3) + `","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`,
	// messages
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":""}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[]}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[]}],"system":"s"}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"system","content":null}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"system","content":"late"},{"role":"user","content":"u"}],"system":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"u"}],"system":[]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"u"}],"system":""}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[]}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"","name":"","input":null}]}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{ "x" : [ 1 , 2 ] }},{"type":"redacted_thinking","data":"z"}]}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a"},{"type":"tool_result","tool_use_id":"b","content":[]},{"type":"tool_result","tool_use_id":"c","content":[{"type":"text","text":"t"},{"type":"image","source":{"type":"url","url":"u"}}]}]}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}},{"type":"text","text":"x\u2028y"}]}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"pre\"fill"}]}`,
	// tools, thinking, stop
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f"}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","description":"","input_schema":null}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"custom","name":"f","input_schema":{"type":"object","properties":{}}}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f"}],"tool_choice":{"type":"any","disable_parallel_tool_use":true}}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f"}],"tool_choice":{"type":"tool","name":"f\u0000"}}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"disabled"}}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"adaptive","budget_tokens":1}}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"thinking":{}}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"output_config":{"effort":""}}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"output_config":{"effort":"\u0001"}}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"stop_sequences":[]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"stop_sequences":["","\u0000","]}"]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"stream":true}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"stream":false}`,
	"\n {\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}\t",
}

// Every body of the table: ToChat's reading is Parse's.
func TestHostileToChatReadsAsParse(t *testing.T) {
	t.Parallel()
	accepted := 0
	for _, body := range hostileMessagesBodies {
		chat, info, err := ToChat([]byte(body))
		if err != nil {
			continue
		}
		accepted++
		if !json.Valid(chat) {
			t.Errorf("ToChat(%s) = %s: not valid JSON", body, chat)
		}
		if err := openai.CheckParsed(chat, info.Chat); err != nil {
			t.Errorf("ToChat(%s) = %s: %v", body, chat, err)
		}
	}
	if accepted < len(hostileMessagesBodies)/2 {
		t.Errorf("only %d of %d bodies translated: the table tests little", accepted, len(hostileMessagesBodies))
	}
}

// A tool's input_schema is copied into the chat body one level
// deeper than it was (tools[i].input_schema becomes
// tools[i].function.parameters). A Messages body nested exactly to
// encoding/json's limit (10000 levels, which ToChat's validator accepts)
// becomes a chat body nested 10001 levels: openai.Parse refuses it as
// malformed JSON ("exceeded max depth"), while RequestInfo.Chat, which the
// pipeline now takes instead of parsing, read it as a valid request: the
// gateway admitted it and sent upstream a body that encoding/json rejects.
// ToChat now refuses a schema too deep for its place in the chat body
// (jsonenc.NestsWithin), and accepts one a level less deep.
func TestHostileToolSchemaAtTheNestingLimit(t *testing.T) {
	t.Parallel()
	// body{ tools[ tool{ input_schema{ ...: the schema's first object is
	// level 4, so n objects reach level n+3.
	const n = 9997
	schema := strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
	body := `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":` + schema + `}]}`
	if !json.Valid([]byte(body)) {
		t.Fatal("the Messages body is not valid JSON: the test is wrong")
	}
	if _, _, err := ToChat([]byte(body)); err == nil || !strings.Contains(err.Error(), "input_schema: nested too deeply") {
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
