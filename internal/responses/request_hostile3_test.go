package responses

import (
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/testkit"
)

// hostile3DupTools are bodies with the tools array given twice (the
// Responses translator has no key guard): until it was mended, the
// conversion in the walk converted both arrays into one list of tools,
// and the conversion after it the last array only, which is also what
// RequestInfo.Tools holds.
var hostile3DupTools = []string{
	`{"model":"m","input":"hi","tools":[{"type":"function","name":"a"}],"tools":[{"type":"function","name":"b"}]}`,
	`{"model":"m","input":"hi","tools":[{"type":"function","name":"a"}],"tools":[]}`,
	`{"model":"m","input":"hi","tools":[{"type":"web_search"},{"type":"custom","name":"c"}],"tools":[{"type":"function","name":"b"}]}`,
	`{"model":"m","input":"hi","tools":[{"type":"function","name":"a"},{"type":"function"}],"tools":[{"type":"function","name":"b"}]}`,
}

// TestToChatInWalkDupToolsHostile3: the last tools array is the tools,
// converted in the walk or after it (it failed at 1cefc9a).
func TestToChatInWalkDupToolsHostile3(t *testing.T) {
	for _, body := range hostile3DupTools {
		t.Run("", func(t *testing.T) { checkInWalk(t, []byte(body)) })
	}
}

// hostile3Bodies are Responses bodies at the edges of the conversion in
// the walk: member orders, duplicate keys, wrong kinds, faults at the ends
// of arrays, nulls, whitespace, huge numbers.
var hostile3Bodies = []string{
	// member orders
	`{"input":[{"role":"user","content":"q"}],"instructions":"i","model":"m"}`,
	`{"tools":[{"type":"function","name":"f"},{"type":"web_search"},{"type":"custom","name":"g"}],"input":[{"role":"user","content":"q"}],"model":"m","instructions":"i"}`,
	`{"tools":[{"type":"function"}],"input":[{"role":"user","content":"q"},{"type":"nope"}],"model":"m"}`,
	`{"tools":[{"type":"function"}],"input":[{"role":"user","content":"q"}],"model":"m","tool_choice":"bogus"}`,
	`{"tools":[{"type":"web_search"}],"input":[{"role":"user","content":"q"}],"model":"m","max_output_tokens":0}`,
	`{"tools":[{"type":"web_search"}],"input":[{"role":"user","content":"q"}],"model":7}`,
	`{"tools":[{"type":"web_search"}],"input":[{"role":"user","content":"q"}],"model":"m","text":7}`,
	`{"tools":[{"type":"web_search"}],"input":[{"role":"user","content":"q"}],"model":"m","reasoning":7}`,
	`{"tools":[{"type":"web_search"}],"input":[],"model":"m","instructions":"i"}`,
	`{"tools":[{"type":"web_search"}],"input":[],"model":"m","instructions":""}`,
	`{"tools":[{"type":"web_search"}],"input":[],"model":"m"}`,
	`{"input":[{"type":"reasoning","summary":[{"type":"summary_text","text":"s1"},{"type":"summary_text","text":"s2"}]},{"type":"function_call","call_id":"c","name":"f"},{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"u"},{"type":"input_text","text":"t"}]},{"role":"assistant","content":[{"type":"output_text","text":"a"},{"type":"refusal","refusal":"r"}]}],"model":"m"}`,
	`{"input":[{"type":"custom_tool_call","call_id":"c","name":"g","input":"x"},{"type":"custom_tool_call_output","call_id":"c","output":"o"},{"type":"function_call_output","call_id":"d","output":null}],"model":"m"}`,
	`{"input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"u"}]}],"model":"m"}`,
	`{"input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image"}]}],"model":"m"}`,
	`{"input":[{"type":"item_reference","id":"x"}],"model":"m"}`,
	`{"input":[{"role":"developer","content":[{"type":"input_text","text":"d"}]},{"role":"system","content":null}],"model":"m"}`,
	// duplicate and odd keys
	`{"model":"m","input":[{"role":"user","content":"a"}],"input":[{"role":"user","content":"b"}]}`,
	`{"model":"m","input":[{"role":"user","content":"a"},{"type":"nope"}],"input":[{"role":"user","content":"b"}]}`,
	`{"model":"m","input":[{"role":"user","content":"a"}],"input":[{"type":"nope"}]}`,
	`{"model":"m","input":[{"role":"user","content":"a"},{"type":"nope"}],"input":"s"}`,
	`{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"u"}]}],"input":[{"role":"user","content":"b"}]}`,
	`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f"}],"input":[{"role":"assistant","content":"b"}]}`,
	`{"model":"m","input":[{"role":"user","content":"a"}],"input":null}`,
	`{"model":"m","input":null,"input":[{"role":"user","content":"a"}]}`,
	`{"model":"m","input":"s","input":[{"role":"user","content":"a"}]}`,
	`{"model":"m","input":[{"role":"user","content":"a"}],"input":7}`,
	`{"model":"m","input":[{"role":"user","content":"a"}],"Input":[{"type":"nope"}],"inp\u0075t":[7]}`,
	`{"model":"m","input":[{"role":"user","content":"a"}],"tools":[{"type":"function","name":"a"}],"tools":null}`,
	`{"model":"m","input":[{"role":"user","content":"a"}],"tools":null,"tools":[{"type":"function","name":"a"}]}`,
	`{"model":"m","input":[{"role":"user","content":"a"}],"tools":[{"type":"function","name":"a"}],"tools":"x"}`,
	`{"model":"m","input":[{"role":"user","content":"a"}],"tools":"x","tools":[{"type":"function","name":"a"}]}`,
	`{"model":"m","input":[{"role":"user","content":"a"}],"tools":[{"type":"function","name":"a"}],"Tools":[{"type":"function","name":"b"}],"t\u006fols":[]}`,
	`{"model":"m","input":[{"role":"user","content":"a","role":"assistant"}]}`,
	`{"model":"m","input":[{"role":"user","content":"a","Role":"assistant","r\u006fle":"system"}]}`,
	`{"model":"m","input":[{"role":"user","content":"a","content":[{"type":"input_text","text":"b"}]}]}`,
	`{"model":"m","input":[{"type":"message","type":"function_call","call_id":"c","name":"f","role":"user"}]}`,
	`{"model":"m","input":[{"role":"us\u0065r","content":"a"}]}`,
	`{"model":"m","model":"n","input":"a"}`,
	// wrong kinds
	`{"model":"m","input":{"role":"user"}}`,
	`{"model":"m","input":[7]}`,
	`{"model":"m","input":[{"role":"user","content":"a"},7]}`,
	`{"model":"m","input":[{"role":"user","content":"a"},[]]}`,
	`{"model":"m","input":[{"role":"user","content":"a"},null]}`,
	`{"model":"m","input":[{"role":7,"content":"a"}]}`,
	`{"model":"m","input":[{"role":"user","content":7}]}`,
	`{"model":"m","input":[{"role":"user","content":[7]}]}`,
	`{"model":"m","input":[{"role":"user","content":[{"type":7}]}]}`,
	`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":7}]}]}`,
	`{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":7}]}]}`,
	`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_file"}]}]}`,
	`{"model":"m","input":[{"type":"function_call","call_id":7,"name":"f"}]}`,
	`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","arguments":{}}]}`,
	`{"model":"m","input":[{"type":"reasoning","content":7}]}`,
	`{"model":"m","input":[{"type":"reasoning","content":[],"summary":[{"type":"summary_text","text":"s"}]}]}`,
	`{"model":"m","input":[{"type":7,"role":"user"}]}`,
	`{"model":"m","input":[{"role":"tool","content":"a"}]}`,
	`{"model":"m","input":[{}]}`,
	`{"model":"m","input":"a","tools":[7]}`,
	`{"model":"m","input":"a","tools":[{"type":7}]}`,
	`{"model":"m","input":"a","tools":[{"type":"function","name":7}]}`,
	`{"model":"m","input":"a","tools":[{"type":"function","name":"f","description":7}]}`,
	`{"model":"m","input":"a","tools":[{"type":"function","name":"f","strict":7}]}`,
	`{"model":"m","input":"a","tools":[{"type":"function","name":"f","strict":true,"parameters":[1]}]}`,
	`{"model":"m","input":"a","tools":[{"type":"custom","name":"g","parameters":{"x":1},"strict":true}]}`,
	`{"model":"m","input":"a","tools":[{"name":"f"},{"type":null,"name":"g"}]}`,
	`{"model":"m","input":"a","tools":[]}`,
	`{"model":"m","input":"a","tools":{}}`,
	// faults at the very end of arrays
	`{"model":"m","input":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"nope"}]}]}`,
	`{"model":"m","input":[{"role":"user","content":"a"},{"type":"function_call_output"}]}`,
	`{"model":"m","input":"a","tools":[{"type":"function","name":"f"},{"type":"function"}]}`,
	// whitespace everywhere
	" \n{ \"model\" : \"m\" , \"input\" : [ { \"role\" : \"user\" , \"content\" : [ { \"type\" : \"input_text\" , \"text\" : \"a\" } ] } , { \"type\" : \"function_call\" , \"call_id\" : \"c\" , \"name\" : \"f\" } ] , \"tools\" : [ { \"type\" : \"function\" , \"name\" : \"f\" , \"parameters\" : { \"type\" : \"object\" } } ] , \"instructions\" : \"i\" } \t",
	"{\"model\":\"m\",\"input\":[\t],\"tools\":[ ]}",
	// huge numbers
	`{"model":"m","input":"a","max_output_tokens":99999999999999999999999}`,
	`{"model":"m","input":[{"role":"user","content":"a","x":1e99999}],"temperature":-1e400,"tools":[{"type":"function","name":"f","parameters":{"m":123456789012345678901234567890}}]}`,
	// nulls
	`{"model":null,"input":null,"tools":null,"instructions":null,"text":null,"reasoning":null}`,
	`{"model":"m","input":[{"type":null,"role":"user","content":null}],"tools":[{"type":"function","name":"f","parameters":null,"description":null,"strict":null}]}`,
	`null`, `[]`, `{}`, `{"input":[]}`, `{"tools":[]}`,
	// malformed at the end of arrays converted in the walk
	`{"model":"m","input":[{"type":"nope"},]}`,
	`{"model":"m","input":[{"type":"nope"}`,
	`{"model":"m","input":[{"type":"nope"}]`,
	`{"model":"m","input":[{"type":"nope"}]}}`,
	`{"model":"m","input":[{"type":"nope","x":[1,}]}`,
	`{"model":"m","input":[{"type":7,"x":tru}]}`,
	`{"model":"m","input":[7 8]}`,
	`{"model":"m","input":"a","tools":[{"type":7},{]}`,
	`{"model":"m","input":"a","tools":[7,]}`,
	"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"\x01\"}]}",
	"{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"\xff\"}]}",
}

// hostile3Deep are bodies with DEEP put where the nesting reaches the
// limit: in input items, content parts, outputs, tools, parameters.
var hostile3Deep = []string{
	`{"model":"m","input":[{"role":"user","content":"a","x":DEEP}]}`,
	`{"model":"m","input":[{"type":"nope","x":DEEP}]}`,
	`{"model":"m","input":[{"type":"nope"},DEEP]}`,
	`{"model":"m","input":[DEEP]}`,
	`{"model":"m","input":DEEP}`,
	`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a","x":DEEP}]}]}`,
	`{"model":"m","input":[{"role":"user","content":DEEP}]}`,
	`{"model":"m","input":[{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"a","x":DEEP}]}]}`,
	`{"model":"m","input":[{"type":"reasoning","summary":[{"type":"summary_text","text":"a","x":DEEP}]}]}`,
	`{"model":"m","input":"a","tools":[{"type":"function","name":"f","parameters":DEEP}]}`,
	`{"tools":[{"type":"function","name":"f","parameters":{"p":DEEP}}],"model":"m","input":"a"}`,
	`{"model":"m","input":"a","tools":[{"type":"custom","name":"g","parameters":DEEP}]}`,
	`{"model":"m","input":"a","tools":[{"type":"web_search","x":DEEP}]}`,
	`{"model":"m","input":"a","tools":[DEEP]}`,
	`{"model":"m","input":"a","tools":DEEP}`,
}

// hostile3Faulty get every fault of testkit.JSONFaults at every position.
var hostile3Faulty = []string{
	`{"input":[{"role":"user","content":[{"type":"input_text","text":"a"}]},{"type":"function_call","call_id":"c","name":"f"},{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"u"}]}],"tools":[{"type":"function","name":"f"},{"type":"web_search"}],"model":"m","instructions":"i"}`,
	`{"model":"m","input":[{"role":"user","content":"a"},{"type":"nope"}],"tools":[{"type":"custom","name":"g"},{"type":"function"}]}`,
}

// TestToChatInWalkHostile3: the conversion in the walk and after it agree
// on the bodies above, on each nested to 9,999, 10,000 and 10,001 levels in
// each place (testkit.DeepBodies: the walk's depth must be the checking
// pass's), and on every fault in the faulty ones.
func TestToChatInWalkHostile3(t *testing.T) {
	testkit.EachHostileBody(hostile3Bodies, hostile3Deep, hostile3Faulty, func(body []byte) { checkInWalk(t, body) })
}

// membersHostile3 are top-level members a body is built from (duplicates
// allowed).
var membersHostile3 = []string{
	`"model":"m"`, `"model":7`, `"instructions":"i"`, `"instructions":7`,
	`"input":"hi"`, `"input":null`, `"input":7`, `"input":[]`,
	`"input":[{"role":"user","content":"q"}]`,
	`"input":[{"type":"reasoning","summary":[{"type":"summary_text","text":"s"}]},{"type":"function_call","call_id":"c","name":"f"},{"type":"function_call_output","call_id":"c","output":[{"type":"input_image","image_url":"u"}]}]`,
	`"input":[{"role":"user","content":"q"},{"type":"nope"}]`,
	`"input":[{"role":"assistant","content":[{"type":"output_text","text":"a"}]},7]`,
	`"tools":null`, `"tools":"x"`, `"tools":[]`,
	`"tools":[{"type":"function","name":"f"},{"type":"web_search"},{"type":"custom","name":"g"}]`,
	`"tools":[{"type":"function"}]`, `"tools":[{"type":"function","name":"h","parameters":{"type":"object"}},7]`,
	`"tool_choice":"auto"`, `"tool_choice":{"type":"function","name":"f"}`, `"tool_choice":7`,
	`"max_output_tokens":0`, `"max_output_tokens":5`, `"stream":true`, `"text":{"format":{"type":"json_object"}}`,
	`"reasoning":{"effort":"none"}`, `"Input":[7]`, `"inp\u0075t":[{"type":"nope"}]`,
}

// FuzzToChatInWalkMembersHostile3 builds a body from the members picked
// by pick (duplicates and every order), plus one of the fuzzer's own.
func FuzzToChatInWalkMembersHostile3(f *testing.F) {
	f.Add([]byte{0, 8, 15}, `"x":1`)
	f.Add([]byte{15, 10, 2, 0}, `"metadata":{}`)
	f.Add([]byte{9, 16, 0, 4, 20}, `"tools":[{"type":"custom","name":"z"}]`)
	f.Add([]byte{5, 8, 13, 0, 22}, `"input":[{"type":"function_call_output","call_id":"c"}]`)
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
