package anthropic

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/testkit"
)

var walkBodies = []string{
	`{"model":"m","max_tokens":5,"system":"be \"brief\"\n","messages":[{"role":"user","content":"hi"}]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"go"},{"role":"assistant","content":[{"type":"text","text":"calling"},{"type":"tool_use","id":"a","name":"f","input":{"x":1}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","is_error":true,"content":[{"type":"text","text":"boom\\"}]}]}]}`,
	`{"model":"m","max_tokens":5,"stream":true,"stop_sequences":["x"],"temperature":0.2,"tools":[{"name":"f","description":"d\u00e9","input_schema":{"type":"object"}}],"tool_choice":{"type":"tool","name":"f"},"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"x"}],"metadata":{"a":[1,-2.5e3,true,false,null]}}`,
}

func checkWalk(t *testing.T, body []byte) {
	t.Helper()
	chat, _, err := ToChat(body)
	if err == nil && !json.Valid(chat) {
		t.Fatalf("ToChat(%q) = %s: not valid JSON", body, chat)
	}
	_, ierr := Inspect(body)
	_, cerr := CountTokens(body)
	for name, err := range map[string]error{"ToChat": err, "Inspect": ierr, "CountTokens": cerr} {
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("%s(%q) = %#v: not a 400 *Error", name, body, err)
			}
		}
		var e *Error
		isMalformed := errors.As(err, &e) && e.Message == "request body is not valid JSON"
		if !json.Valid(body) && !isMalformed {
			t.Fatalf("%s(%q) = %v, want the malformed body refused as such", name, body, err)
		}
		if json.Valid(body) && isMalformed {
			t.Fatalf("%s(%q) = %v on a valid body", name, body, err)
		}
	}
}

func FuzzToChatMutated(f *testing.F) {
	testkit.FuzzFaults(f, walkBodies, func(t *testing.T, body []byte, _ uint8) { checkWalk(t, body) })
}

func TestToChatMalformedTable(t *testing.T) {
	testkit.EachFault(walkBodies, func(body []byte) { checkWalk(t, body) })
}

func TestToChatDeep(t *testing.T) {
	for _, d := range []int{9998, 9999, 10000} {
		deep := strings.Repeat("[", d) + strings.Repeat("]", d)
		for _, body := range []string{
			`{"model":"m","max_tokens":5,"x":` + deep + `,"messages":[{"role":"user","content":"hi"}]}`,
			`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi","x":` + deep + `}]}`,
			`{"model":"m","max_tokens":5,"MODEL":"x","x":` + deep + `}`,
			`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}],"x":` + deep + `}x`,
		} {
			checkWalk(t, []byte(body))
		}
	}
}

// TestToChatRefusesSmuggledKeys: in the request and in every
// message, past smallObject keys too.
func TestToChatRefusesSmuggledKeys(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	var filler strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&filler, `"f%d":%d,`, i, i)
	}
	fill := filler.String()
	req := `"model":"m","max_tokens":5,`
	for _, body := range []string{
		`{` + req + msgs + `,"max_tok\u0065ns":100000}`,
		`{` + req + msgs + `,"MAX_TOKENS":100000}`,
		`{` + req + msgs + `,"max_tokens":100000}`,
		`{` + req + msgs + `,"max_to\u212aens":100000}`,
		`{` + req + msgs + `,"max_toKens":100000}`,
		`{` + req + msgs + `,"ſtream":true}`,
		`{` + req + msgs + `,"x":1,"x":2}`,
		`{` + req + msgs + `,"x":1,"X":2}`,
		`{` + req + msgs + `,"\u0078":1}`,
		`{` + fill + req + msgs + `,"Model":"b"}`,
		`{` + fill + req + msgs + `,"f1":1}`,
		`{` + fill + req + msgs + `,"F1":1}`,
		`{` + req + `"messages":[{"role":"user","content":"hi","role":"assistant"}]}`,
		`{` + req + `"messages":[{"role":"user","content":"hi","Role":"assistant"}]}`,
		`{` + req + `"messages":[{"role":"user","content":"hi","r\u006fle":"assistant"}]}`,
		`{` + req + `"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"a","c\u006fntent":"b"}]}`,
		`{` + req + `"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"a","CONTENT":"b"}]}`,
		`{` + req + `"messages":[{"role":"user","content":"hi"},{"role":"system","content":"a","content":"b"}]}`,
		`{` + req + `"messages":[{"role":"user","content":"hi"},{` + fill + `"role":"assistant","content":"a","Content":"b"}]}`,
		`{` + req + `"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"a","x":1,"x":2}]}`,
		`{` + req + `"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"a","\u0078":1}]}`,
		`{` + req + `"messages":[{"role":"user","content":"hi","ro\u006ce":"user"}]}`,
		"{" + req + "\"k\xff\":1,\"k\xfe\":2," + msgs + "}",
	} {
		if !json.Valid([]byte(body)) {
			t.Fatalf("bad case %s", body)
		}
		_, _, err := ToChat([]byte(body))
		var e *Error
		if !errors.As(err, &e) || e.Status != 400 || !strings.Contains(e.Message, "key") {
			t.Errorf("ToChat(%s) = %v, want the key refused", body, err)
		}
	}
	// The request's keys are refused by Inspect and CountTokens too.
	for _, body := range []string{
		`{` + req + msgs + `,"max_tok\u0065ns":100000}`,
		`{` + req + msgs + `,"Max_tokens":100000}`,
		`{` + req + msgs + `,"max_tokens":100000}`,
		`{` + fill + req + msgs + `,"max_tokens":100000}`,
		`{` + fill + req + msgs + `,"MODEL":"x"}`,
	} {
		for name, f := range map[string]func([]byte) error{
			"Inspect":     func(b []byte) error { _, err := Inspect(b); return err },
			"CountTokens": func(b []byte) error { _, err := CountTokens(b); return err },
		} {
			err := f([]byte(body))
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(e.Message, "key") {
				t.Errorf("%s(%s) = %v, want the key refused", name, body, err)
			}
		}
	}
}

// TestToChatRefusesRawFoldVariants: fold variants written raw (no
// escape): the Kelvin sign, the long s, a dotted capital I.
func TestToChatRefusesRawFoldVariants(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	req := `"model":"m","max_tokens":5,`
	for _, body := range []string{
		"{" + req + msgs + ",\"max_to\u212aens\":100000}",
		"{" + req + msgs + ",\"\u017ftream\":true}",
		"{" + req + msgs + ",\"th\u0130nking\":{\"type\":\"enabled\"}}",
		"{" + req + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"\u0280ole\":\"x\"}],\"x\u212a\":1,\"xk\":2}",
		"{" + req + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"conten\u0442\":\"x\",\"CONTENT\":\"y\"}]}",
	} {
		_, _, err := ToChat([]byte(body))
		var e *Error
		if !errors.As(err, &e) || !strings.Contains(e.Message, "key") {
			t.Errorf("ToChat(%s) = %v, want the key refused", body, err)
		}
	}
}

// TestToChatContentBeforeRole: a message whose content comes before its
// role is converted after the walk of its members, one whose role comes
// first as the walk checks its blocks (conversion); both give the same
// chat body, or the same fault.
func TestToChatContentBeforeRole(t *testing.T) {
	for _, m := range [][2]string{
		{`"role":"user"`, `"content":[{"type":"text","text":"a"},{"type":"tool_result","tool_use_id":"x","content":[{"type":"text","text":"r"}]}]`},
		{`"role":"assistant"`, `"content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"text","text":"b"},{"type":"tool_use","id":"x","name":"f","input":{"p": 1}}]`},
		{`"role":"user"`, `"content":[{"type":"image","source":{"type":"url","url":"https://e/a.png"}},{"type":"text","text":"c"}]`},
		{`"role":"user"`, `"content":[{"type":"tool_use","id":"x","name":"f"}]`},         // not in user messages
		{`"role":"assistant"`, `"content":[{"type":"text","text":1}]`},                   // not a string
		{`"role":"user"`, `"content":[{"type":"tool_result","content":"r"}]`},            // no tool_use_id
		{`"role":"user"`, `"content":[{"type":"text","text":"a"}],"Role":"x"`},           // smuggled after the blocks
		{`"role":"assistant"`, `"content":[{"type":"text","text":"a"}, 7]`},              // not a block
		{`"role":"user"`, `"content":[{"type":"text","text":"a","x":[1,2,{"y":null}]}]`}, // an unknown member, checked
	} {
		roleFirst := `{"model":"m","max_tokens":5,"messages":[{` + m[0] + `,` + m[1] + `}]}`
		contentFirst := `{"model":"m","max_tokens":5,"messages":[{` + m[1] + `,` + m[0] + `}]}`
		chat1, _, err1 := ToChat([]byte(roleFirst))
		chat2, _, err2 := ToChat([]byte(contentFirst))
		if string(chat1) != string(chat2) || fmt.Sprint(err1) != fmt.Sprint(err2) {
			t.Errorf("role first: %s, %v\ncontent first: %s, %v", chat1, err1, chat2, err2)
		}
		checkWalk(t, []byte(roleFirst))
		checkWalk(t, []byte(contentFirst))
	}
}

// TestToChatMembersInAnyOrder: the messages and tools are converted in the
// walk that checks the body (conversion), the system prompt after it: the
// order of the body's members changes neither the chat body nor which
// fault is reported.
func TestToChatMembersInAnyOrder(t *testing.T) {
	for _, members := range [][]string{
		{`"model":"m"`, `"max_tokens":5`, `"system":[{"type":"text","text":"s"}]`, `"messages":[{"role":"system","content":"late"},{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"tool_use","id":"x","name":"f","input":{}}]}]`, `"tools":[{"name":"f","input_schema":{"type":"object"}},{"type":"bash_20250124","name":"bash"}]`, `"tool_choice":{"type":"auto"}`},
		{`"model":"m"`, `"max_tokens":5`, `"messages":[{"role":"user","content":[{"type":"tool_use","id":"x","name":"f"}]}]`, `"tools":[{"input_schema":{}}]`, `"system":[{"type":"image"}]`}, // the system prompt's fault first
		{`"max_tokens":5`, `"messages":[{"role":"user","content":[7]}]`, `"tools":[{}]`},                                                    // no model: that first
		{`"model":"m"`, `"max_tokens":5`, `"tools":[{"name":"f"},{"description":"no name"}]`, `"messages":[{"role":"user","content":"q"}]`}, // a tool's fault
	} {
		var want string
		for body := range testkit.ObjectsInEveryOrder(members) {
			chat, info, err := ToChat([]byte(body))
			got := string(chat) + "|" + fmt.Sprint(err) + "|" + fmt.Sprint(info.DroppedTools)
			if want == "" {
				want = got
			} else if got != want {
				t.Errorf("%s:\ngot  %s\nwant %s", body, got, want)
			}
			checkWalk(t, []byte(body))
		}
	}
}

// FuzzToChatInWalk: the messages and tools converted in the walk that
// checks the body (ToChat) and after it, over the checked body, give the
// same answers (checkInWalk).
func FuzzToChatInWalk(f *testing.F) {
	for _, bodies := range [][]string{walkBodies, hostileMessagesBodies, hostile3Bodies} {
		for _, body := range bodies {
			f.Add([]byte(body))
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkInWalk(t, body) })
}

// checkInWalk holds toChat(body, true), the conversion in the walk that
// checks the body, to toChat(body, false), the conversion after it: the
// same chat body, the same fault, the same RequestInfo (its Chat aside);
// and body to checkWalk's rules.
func checkInWalk(t *testing.T, body []byte) {
	t.Helper()
	testkit.SameBothWays(t, body, toChat, func(info *RequestInfo) { info.Chat = openai.Parsed{} })
	checkWalk(t, body)
}
