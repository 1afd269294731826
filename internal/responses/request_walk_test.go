package responses

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
	`{"model":"m","input":"hi"}`,
	`{"model":"m","instructions":"be \"brief\"\n\\","input":[{"role":"developer","content":"rules"},{"type":"message","role":"user","content":[{"type":"input_text","text":"see"},{"type":"input_image","image_url":"https://x/a.png","detail":"low"}]}]}`,
	`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":"{\"x\":1}"},{"type":"function_call_output","call_id":"c","output":"2"}],"tools":[{"type":"function","name":"f","description":"d\u00e9","parameters":{"type":"object"},"strict":true}],"tool_choice":{"type":"function","name":"f"}}`,
	`{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"w","schema":{"type":"object"},"strict":true}},"reasoning":{"effort":"high"},"stream":true,"max_output_tokens":64,"temperature":0.5,"top_p":1,"metadata":{"a":[1,-2.5e3,true,false,null]}}`,
}

func checkWalk(t *testing.T, body []byte) {
	t.Helper()
	chat, _, err := ToChat(body)
	if err == nil && !json.Valid(chat) {
		t.Fatalf("ToChat(%q) = %s: not valid JSON", body, chat)
	}
	var e *openai.Error
	if err != nil && (!errors.As(err, &e) || e.Status != 400) {
		t.Fatalf("ToChat(%q) = %#v: not a 400 *openai.Error", body, err)
	}
	isMalformed := errors.As(err, &e) && e.Message == "request body is not valid JSON"
	if !json.Valid(body) && !isMalformed {
		t.Fatalf("ToChat(%q) = %v, want the malformed body refused as such", body, err)
	}
	if json.Valid(body) && isMalformed {
		t.Fatalf("ToChat(%q) = %v on a valid body", body, err)
	}
}

func FuzzToChatMutated(f *testing.F) {
	testkit.FuzzFaults(f, walkBodies, func(t *testing.T, body []byte, _ uint8) { checkWalk(t, body) })
}

func TestToChatMalformedTable(t *testing.T) {
	testkit.EachFault(walkBodies, func(body []byte) { checkWalk(t, body) })
	for _, body := range []string{"", " ", "[", "[1,]", `"x`, "tru", "01", "\xef\xbb\xbf{}", "[]", "1", `"s"`, "null"} {
		checkWalk(t, []byte(body))
	}
}

func TestToChatDeep(t *testing.T) {
	for _, d := range []int{9998, 9999, 10000} {
		deep := strings.Repeat("[", d) + strings.Repeat("]", d)
		for _, body := range []string{
			`{"model":"m","x":` + deep + `,"input":"hi"}`,
			`{"model":"m","input":"hi","metadata":{"x":` + deep + `}}`,
			`{"model":5,"x":` + deep + `}`,
			`{"model":"m","input":"hi","x":` + deep + `}x`,
		} {
			checkWalk(t, []byte(body))
		}
	}
}

// TestToChatMembersInAnyOrder: the input items and tools are converted in
// the walk that checks the body (conversion), the instructions read after
// it: the order of the body's members changes neither the chat body nor
// which fault is reported.
func TestToChatMembersInAnyOrder(t *testing.T) {
	for _, members := range [][]string{
		{`"model":"m"`, `"instructions":"be brief"`, `"input":[{"role":"user","content":"q"},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"2"}]`, `"tools":[{"type":"function","name":"f","parameters":{"type":"object"}},{"type":"web_search"},{"type":"custom","name":"g"}]`, `"tool_choice":"auto"`},
		{`"model":"m"`, `"input":[{"role":"user","content":"q"},{"type":"nope"}]`, `"tools":[{"type":"function"}]`},        // the input's fault first
		{`"input":[{"role":"user","content":"q"}]`, `"tools":[{"type":"function","name":"f"},7]`, `"max_output_tokens":0`}, // no model: that first
		{`"model":"m"`, `"input":[{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_image"}]}]`, `"instructions":"i"`},
	} {
		var want string
		for body := range testkit.ObjectsInEveryOrder(members) {
			chat, info, err := ToChat([]byte(body))
			got := string(chat) + "|" + fmt.Sprint(err) + "|" + fmt.Sprint(info.CustomTools, info.DroppedTools)
			if want == "" {
				want = got
			} else if got != want {
				t.Errorf("%s:\ngot  %s\nwant %s", body, got, want)
			}
			checkWalk(t, []byte(body))
		}
	}
}

// FuzzToChatInWalk: the input items and tools converted in the walk that
// checks the body (ToChat) and after it, over the checked body, give the
// same answers (checkInWalk).
func FuzzToChatInWalk(f *testing.F) {
	for _, bodies := range [][]string{walkBodies, hostileResponsesBodies, hostile3Bodies} {
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
