package anthropic

import (
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/testkit"
)

const h3req = `"model":"m","max_tokens":5,`

// hostile3Bodies are Messages bodies at the edges of the conversion in the
// walk: member orders, smuggled keys, wrong kinds, faults at the ends of
// arrays, nulls, whitespace, huge numbers.
var hostile3Bodies = []string{
	// member orders
	`{"messages":[{"content":[{"type":"text","text":"a"}],"role":"user"}],"tools":[{"name":"f"}],` + h3req + `"system":"s"}`,
	`{"tools":[{"name":"f","input_schema":{"type":"object"}},{"type":"web_search_20250305","name":"w"}],"messages":[{"role":"user","content":"q"}],` + h3req[:len(h3req)-1] + `}`,
	`{"tools":[{"type":"bash_20250124"},{"description":"no name"}],"messages":[{"role":"user","content":[7]}],` + h3req[:len(h3req)-1] + `}`,
	`{"tools":[{"type":"bash_20250124"},{"description":"no name"}],` + h3req + `"messages":[{"role":"user","content":"a"}],"model":"x"}`,
	`{"tools":[{"type":"bash_20250124"},{"description":"no name"}],"messages":[{"role":"user","content":[{"type":"nope"}]}],"max_tokens":5}`,
	`{"tools":[{"type":"bash_20250124"},{"description":"no name"}],"messages":[{"role":"user","content":"a"}],"model":"m","max_tokens":5,"tool_choice":{"type":"bogus"}}`,
	`{"tools":[{"type":"bash_20250124"},{"name":"ok"}],"messages":[{"role":"user","content":"a"}],"model":"m","max_tokens":5,"tool_choice":{"type":"bogus"}}`,
	`{"tools":[{"type":"bash_20250124"},{"name":"ok"}],"messages":[{"role":"user","content":"a"}],"model":"m","max_tokens":5,"thinking":{"type":"x"}}`,
	`{"messages":[{"role":"user","content":"a"}],"model":"m","max_tokens":0,"tools":[{"type":"bash_20250124"}]}`,
	`{"messages":[{"role":"user","content":"a"}],"model":"m","max_tokens":5,"tools":[{"type":"bash_20250124"}],"system":[{"type":"image"}]}`,
	`{"messages":[],"model":"m","max_tokens":5,"tools":[{"type":"bash_20250124"}]}`,
	`{"messages":[{"role":"system","content":"late"},{"role":"user","content":"q"},{"role":"system","content":[{"type":"text","text":"late2"}]}],` + h3req + `"system":"first"}`,
	`{"messages":[{"role":"system","content":[{"type":"image"}]},{"role":"user","content":"q"}],` + h3req + `"system":"first"}`,
	`{"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"bad"}]}],` + h3req[:len(h3req)-1] + `}`,
	`{"messages":[{"content":[{"type":"thinking","thinking":"t","signature":"bad"}],"role":"assistant"}],` + h3req[:len(h3req)-1] + `}`,
	`{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}},{"type":"text","text":"r"}]},{"type":"text","text":"after"}]},{"role":"assistant","content":"x"}],` + h3req[:len(h3req)-1] + `}`,
	`{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"video"}]}]}],` + h3req[:len(h3req)-1] + `}`,
	`{"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a"},{"type":"tool_result","tool_use_id":"b","content":null},{"type":"image","source":{"type":"url","url":"u"}}]}],` + h3req[:len(h3req)-1] + `}`,
	// smuggled and duplicate keys inside messages and the body
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"text","text":"a"}],"content":"b"}]}`,
	`{` + h3req + `"messages":[{"content":[{"type":"text","text":"a"}],"role":"user","content":"b"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"text","text":"a"}],"Role":"assistant"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"nope"}],"Role":"assistant"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"nope"}],"r\u006fle":"assistant"}]}`,
	`{` + h3req + `"messages":[{"r\u006fle":"user","content":[{"type":"text","text":"a"}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","c\u006fntent":[{"type":"text","text":"a"}]}]}`,
	`{` + h3req + `"messages":[{"role":"us\u0065r","content":[{"type":"text","text":"a"}]}]}`,
	`{` + h3req + `"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"x","name":"f","input":{"a" : [1, 2]}}],"CONTENT":1}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"a"}],"messages":[{"role":"user","content":"b"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"nope"}]}],"messages":[{"role":"user","content":"b"}]}`,
	`{` + h3req + `"tools":[{"name":"a"}],"tools":[{"name":"b"}],"messages":[{"role":"user","content":"b"}]}`,
	`{` + h3req + `"tools":[{"type":"bash_20250124"}],"Tools":[{"name":"b"}],"messages":[{"role":"user","content":"b"}]}`,
	`{` + h3req + `"Messages":[{"role":"user","content":"b"}],"messages":[{"role":"user","content":"b"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"MESSAGES":[{"role":"user","content":"b"}]}`,
	`{` + h3req + `"m\u0065ssages":[{"role":"user","content":"b"}],"messages":[{"role":"user","content":"b"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"t\u006fols":[{"name":"b"}]}`,
	`{` + h3req + `"tools":null,"tools":[{"name":"b"}],"messages":[{"role":"user","content":"b"}]}`,
	`{` + h3req + `"messages":null,"messages":[{"role":"user","content":"b"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"messages":null}`,
	// wrong kinds
	`{` + h3req + `"messages":{"role":"user","content":"b"}}`,
	`{` + h3req + `"messages":"x","tools":{"name":"f"}}`,
	`{` + h3req + `"messages":[1,{"role":"user","content":"b"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"},[]]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"},null]}`,
	`{` + h3req + `"messages":[{"role":7,"content":[{"type":"text","text":"a"}]}]}`,
	`{` + h3req + `"messages":[{"role":["user"],"content":[{"type":"text","text":"a"}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":{"type":"text"}}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":7}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":true}]}`,
	`{` + h3req + `"messages":[{"role":"tool","content":[{"type":"text","text":"a"}]}]}`,
	`{` + h3req + `"messages":[{"content":[{"type":"text","text":"a"}]}]}`,
	`{` + h3req + `"messages":[{"role":"user"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":null}]}`,
	`{` + h3req + `"messages":[{"role":null,"content":[{"type":"text","text":"a"}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[null]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":null,"text":"a"}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"text","text":null}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"text","text":7}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":7}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"image","source":7}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":7}}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":7}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":7}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":{"type":"text"}}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[7]}]}]}`,
	`{` + h3req + `"messages":[{"role":"assistant","content":[{"type":"tool_use","id":7,"name":"f"}]}]}`,
	`{` + h3req + `"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":"s"}]}]}`,
	`{` + h3req + `"messages":[{"role":"assistant","content":[{"type":"redacted_thinking","data":"x"},{"type":"text","text":"a"},{"type":"text","text":"b\u00e9"}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"tools":[7]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"tools":[{"name":7}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"tools":[{"name":"f","description":7}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"tools":[{"name":"f","type":7}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"tools":[{"name":"f","type":"custom"},{"type":"custom"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"tools":[{"name":"f","input_schema":null},null,{"type":"x"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"tools":[]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"tools":"x"}`,
	// faults at the very end of arrays
	`{` + h3req + `"messages":[{"role":"user","content":"b"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"nope"}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"a"},{}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[]}]}`,
	`{` + h3req + `"messages":[{"role":"assistant","content":[]}]}`,
	`{` + h3req + `"messages":[{"role":"system","content":[]}]}`,
	`{` + h3req + `"messages":[{"role":"system","content":[{"type":"text","text":"a"}]},{"role":"system","content":"b"}]}`,
	// whitespace everywhere
	" \n{ \"model\" : \"m\" , \"max_tokens\" : 5 , \"messages\" : [ { \"role\" : \"user\" , \"content\" : [ { \"type\" : \"text\" , \"text\" : \"a\" } , { \"type\" : \"tool_result\" , \"tool_use_id\" : \"t\" , \"content\" : [ { \"type\" : \"text\" , \"text\" : \"r\" } ] } ] } , { \"content\" : [ { \"type\" : \"tool_use\" , \"id\" : \"i\" , \"name\" : \"f\" , \"input\" : { \"a\" : [ 1 , 2 ] } } ] , \"role\" : \"assistant\" } ] , \"tools\" : [ { \"name\" : \"f\" , \"input_schema\" : { \"type\" : \"object\" } } ] } \t",
	"{\"model\":\"m\",\"max_tokens\":5,\"messages\":[\t]}",
	"{\"model\":\"m\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":[\r\n]}],\"tools\":[ ]}",
	// huge numbers
	`{"model":"m","max_tokens":99999999999999999999999,"messages":[{"role":"user","content":"b"}]}`,
	`{"model":"m","max_tokens":5,"temperature":1e999999,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","is_error":1e400}]}],"tools":[{"name":"f","input_schema":{"max":-123456789012345678901234567890e-5}}]}`,
	`{"model":"m","max_tokens":5.0,"messages":[{"role":"user","content":"b"}]}`,
	`{"model":"m","max_tokens":-0,"messages":[{"role":"user","content":"b"}]}`,
	// nulls
	`{"model":null,"max_tokens":null,"messages":null,"tools":null,"system":null,"tool_choice":null}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"a","cache_control":null}]}],"tools":[{"name":"f","input_schema":null,"description":null,"type":null}],"tool_choice":null}`,
	`null`, `[]`, `{}`, `{"messages":[]}`, `{"tools":[]}`,
	// malformed at the end of arrays converted in the walk
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"nope"}]},]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"nope"},]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"nope"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"nope"}]}]`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"nope"}]}]}}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"text","text":"a"} {"type":"text"}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"nope","x":[1,2,}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"nope"}],"x":tru}]}`,
	`{` + h3req + `"messages":[{"role":"user","Role":"x","content":[{"type":"text","text":"a"}],"x":tru}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"tools":[{"name":7},{]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"tools":[{"name":7}],"tools":[}`,
	`{` + h3req + `"messages":[{"role":"user","content":"b"}],"tools":[{"name":"a"}],"Tools":[}`,
	`{` + h3req + `"messages":[{"role":"user","content":"\x01"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"text","text":"\x01"}]}]}`,
	"{" + h3req + "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"\xff\"}]}]}",
	"{" + h3req + "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"te\xffxt\",\"text\":\"a\"}]}]}",
}

// hostile3Deep are bodies with DEEP put where the nesting reaches the
// limit: inside messages, blocks, tool_result content, tool_use input,
// tools, input_schema, system.
var hostile3Deep = []string{
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"text","text":"a","x":DEEP}]}]}`,
	`{` + h3req + `"messages":[{"content":[{"type":"text","text":"a","x":DEEP}],"role":"user"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"nope","x":DEEP}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"nope"},DEEP]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"r","x":DEEP}]}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":DEEP}]}]}`,
	`{` + h3req + `"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":DEEP}]}]}`,
	`{` + h3req + `"messages":[{"content":[{"type":"tool_use","id":"a","name":"f","input":DEEP}],"role":"assistant"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":DEEP}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"a","x":DEEP}]}`,
	`{` + h3req + `"messages":[DEEP]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"a"},DEEP]}`,
	`{` + h3req + `"messages":DEEP}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","url":"u","x":DEEP}}]}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"a"}],"tools":[{"name":"f","input_schema":DEEP}]}`,
	`{` + h3req + `"tools":[{"name":"f","input_schema":{"a":DEEP}}],"messages":[{"role":"user","content":"a"}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"a"}],"tools":[{"type":"bash","x":DEEP}]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"a"}],"tools":[DEEP]}`,
	`{` + h3req + `"messages":[{"role":"user","content":"a"}],"tools":DEEP}`,
	`{` + h3req + `"system":[{"type":"text","text":"s","x":DEEP}],"messages":[{"role":"user","content":"a"}]}`,
	`{` + h3req + `"messages":[{"role":"system","content":[{"type":"text","text":"s","x":DEEP}]},{"role":"user","content":"a"}]}`,
}

// hostile3Faulty get every fault of testkit.JSONFaults at every position.
var hostile3Faulty = []string{
	`{"messages":[{"content":[{"type":"text","text":"a"}],"role":"user"},{"role":"assistant","content":[{"type":"tool_use","id":"i","name":"f","input":{}}]}],"tools":[{"name":"f"}],` + h3req + `"system":"s"}`,
	`{` + h3req + `"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"r"}]},{"type":"nope"}]}],"tools":[{"type":"x"},{"name":7}]}`,
}

// TestToChatInWalkHostile3: the conversion in the walk and after it agree
// on the bodies above, on each nested to 9,999, 10,000 and 10,001 levels in
// each place (testkit.DeepBodies: the walk's depth must be the checking
// pass's), and on every fault in the faulty ones.
func TestToChatInWalkHostile3(t *testing.T) {
	testkit.EachHostileBody(hostile3Bodies, hostile3Deep, hostile3Faulty, func(body []byte) { checkInWalk(t, body) })
}

// FuzzToChatInWalkPartsHostile3 builds a body from a message's members,
// a block and top-level members, the fuzzer choosing each, so that its
// mutations stay within the message walk.
func FuzzToChatInWalkPartsHostile3(f *testing.F) {
	f.Add(`"role":"user"`, `"content":[`, `{"type":"text","text":"a"}`, `]`, `"tools":[{"name":"f"}]`, uint8(0))
	f.Add(`"role":"assistant"`, `"content":[`, `{"type":"tool_use","id":"a","name":"f","input":{}}`, `],"Role":1`, `"tools":[{"type":"x"},{}]`, uint8(1))
	f.Add(`"role":"user"`, `"content":[`, `{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"r"}]}`, `]`, `"system":[{"type":"text","text":"s"}]`, uint8(2))
	f.Add(`"role":"system"`, `"content":[`, `{"type":"text","text":"s"}`, `]`, `"tools":[]`, uint8(3))
	f.Fuzz(func(t *testing.T, role, open, block, close, top string, sel uint8) {
		msg := role + "," + open + block + "," + block + close
		if sel&1 != 0 {
			msg = open + block + "," + block + close + "," + role
		}
		msgs := `"messages":[{` + msg + `},{"role":"user","content":"x"}]`
		if sel&2 != 0 {
			msgs = `"messages":[{"role":"user","content":"x"},{` + msg + `}]`
		}
		var body string
		switch sel >> 2 % 3 {
		case 0:
			body = "{" + h3req + msgs + "," + top + "}"
		case 1:
			body = "{" + top + "," + msgs + "," + h3req[:len(h3req)-1] + "}"
		default:
			body = "{" + msgs + "," + h3req + top + "}"
		}
		checkInWalk(t, []byte(body))
	})
}

// membersHostile3 are top-level members a body is built from (duplicates
// allowed: the key guard must refuse them alike both ways).
var membersHostile3 = []string{
	`"model":"m"`, `"model":7`, `"max_tokens":5`, `"max_tokens":0`, `"system":"s"`, `"system":[{"type":"text","text":"s"}]`, `"system":[{"type":"image"}]`,
	`"messages":[{"role":"user","content":"q"}]`, `"messages":[]`, `"messages":null`, `"messages":7`,
	`"messages":[{"role":"system","content":"late"},{"content":[{"type":"text","text":"a"}],"role":"user"},{"role":"assistant","content":[{"type":"tool_use","id":"x","name":"f","input":{}}]}]`,
	`"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"image","source":{"type":"url","url":"u"}}]},{"type":"nope"}]}]`,
	`"messages":[{"role":"assistant","content":[{"type":"text","text":"a"}],"Role":"user"}]`,
	`"tools":null`, `"tools":"x"`, `"tools":[]`,
	`"tools":[{"name":"f","input_schema":{"type":"object"}},{"type":"bash_20250124"},{"type":"custom","name":"g"}]`,
	`"tools":[{"type":"web_search"},{"description":"d"}]`,
	`"tool_choice":{"type":"auto"}`, `"tool_choice":{"type":"tool"}`, `"stream":true`, `"thinking":{"type":"enabled"}`, `"thinking":{"type":"x"}`,
	`"Messages":[]`, `"t\u006fols":[]`, `"stop_sequences":["a"]`,
}

// FuzzToChatInWalkMembersHostile3 builds a body from the members picked
// by pick (duplicates and every order), plus one of the fuzzer's own.
func FuzzToChatInWalkMembersHostile3(f *testing.F) {
	f.Add([]byte{0, 2, 7, 17}, `"x":1`)
	f.Add([]byte{17, 11, 0, 2, 4}, `"metadata":{}`)
	f.Add([]byte{12, 18, 0, 2, 21}, `"messages":[{"role":"user","content":[{"type":"text","text":"b"}]}]`)
	f.Add([]byte{13, 0, 2, 17, 17}, `"tools":[{"name":"z"}]`)
	f.Fuzz(func(t *testing.T, pick []byte, own string) {
		if len(pick) > 12 {
			pick = pick[:12]
		}
		parts := make([]string, 0, len(pick)+1)
		for i, p := range pick {
			if int(p) == len(membersHostile3) || i == int(p)%7 && own != "" && len(parts) == i {
				parts = append(parts, own)
			}
			parts = append(parts, membersHostile3[int(p)%len(membersHostile3)])
		}
		checkInWalk(t, []byte("{"+strings.Join(parts, ",")+"}"))
	})
}
