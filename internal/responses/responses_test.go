package responses

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dsgate/dsgate/internal/openai"
)

func chatOf(t *testing.T, body string) (map[string]any, RequestInfo) {
	t.Helper()
	out, info, err := ToChat([]byte(body))
	if err != nil {
		t.Fatalf("ToChat: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", out, err)
	}
	return m, info
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestToChatFields(t *testing.T) {
	tests := []struct{ name, body, key, want string }{
		{"string input", `{"model":"m","input":"hi"}`, "messages", `[{"content":"hi","role":"user"}]`},
		{"instructions first", `{"model":"m","instructions":"be brief","input":"hi"}`, "messages", `[{"content":"be brief","role":"system"},{"content":"hi","role":"user"}]`},
		{"developer is system", `{"model":"m","input":[{"role":"developer","content":"rules"},{"type":"message","role":"user","content":"hi"}]}`, "messages", `[{"content":"rules","role":"system"},{"content":"hi","role":"user"}]`},
		{"image", `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"see"},{"type":"input_image","image_url":"https://x/a.png","detail":"low"}]}]}`, "messages", `[{"content":[{"text":"see","type":"text"},{"image_url":{"detail":"low","url":"https://x/a.png"},"type":"image_url"}],"role":"user"}]`},
		{"max_output_tokens", `{"model":"m","input":"hi","max_output_tokens":64}`, "max_tokens", `64`},
		{"json_schema", `{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"w","schema":{"type":"object"},"strict":true}}}`, "response_format", `{"json_schema":{"name":"w","schema":{"type":"object"},"strict":true},"type":"json_schema"}`},
		{"json_object", `{"model":"m","input":"hi","text":{"format":{"type":"json_object"}}}`, "response_format", `{"type":"json_object"}`},
		{"text format", `{"model":"m","input":"hi","text":{"format":{"type":"text"}}}`, "response_format", `null`},
		{"effort none", `{"model":"m","input":"hi","reasoning":{"effort":"none"}}`, "thinking", `{"type":"disabled"}`},
		{"effort high", `{"model":"m","input":"hi","reasoning":{"effort":"high","summary":"auto"}}`, "reasoning_effort", `"high"`},
		{"tool_choice function", `{"model":"m","input":"hi","tool_choice":{"type":"function","name":"f"}}`, "tool_choice", `{"function":{"name":"f"},"type":"function"}`},
		{"tool_choice required", `{"model":"m","input":"hi","tool_choice":"required"}`, "tool_choice", `"required"`},
		{"strict tool", `{"model":"m","input":"hi","tools":[{"type":"function","name":"f","parameters":{"type":"object"},"strict":true}]}`, "tools", `[{"function":{"name":"f","parameters":{"type":"object"},"strict":true},"type":"function"}]`},
		{"store not sent", `{"model":"m","input":"hi","store":true,"previous_response_id":"resp_1","metadata":{"a":"b"}}`, "store", `null`},
		{"stream usage", `{"model":"m","input":"hi","stream":true}`, "stream_options", `{"include_usage":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := chatOf(t, tt.body)
			if got := jsonOf(t, m[tt.key]); got != tt.want {
				t.Errorf("%s = %s, want %s", tt.key, got, tt.want)
			}
		})
	}
}

// Assistant-side items fold into one chat message per turn; a reasoning
// item after a finished turn starts a new one.
func TestToChatFolding(t *testing.T) {
	m, info := chatOf(t, `{"model":"m","store":false,"previous_response_id":"resp_0","input":[
		{"role":"user","content":"q"},
		{"type":"reasoning","summary":[{"type":"summary_text","text":"s1"},{"type":"summary_text","text":"s2"}]},
		{"type":"message","role":"assistant","content":[{"type":"output_text","text":"looking"}]},
		{"type":"function_call","call_id":"a","name":"f","arguments":"{}"},
		{"type":"function_call","call_id":"b","name":"g","arguments":""},
		{"type":"function_call_output","call_id":"a","output":"1"},
		{"type":"function_call_output","call_id":"b","output":[{"type":"input_text","text":"2"}]},
		{"type":"reasoning","content":[{"type":"reasoning_text","text":"r2"}]},
		{"role":"assistant","content":"done"},
		{"role":"user","content":"thanks"}]}`)
	want := `[{"content":"q","role":"user"},` +
		`{"content":"looking","reasoning_content":"s1\n\ns2","role":"assistant","tool_calls":[{"function":{"arguments":"{}","name":"f"},"id":"a","type":"function"},{"function":{"arguments":"{}","name":"g"},"id":"b","type":"function"}]},` +
		`{"content":"1","role":"tool","tool_call_id":"a"},{"content":"2","role":"tool","tool_call_id":"b"},` +
		`{"content":"done","reasoning_content":"r2","role":"assistant"},` +
		`{"content":"thanks","role":"user"}]`
	if got := jsonOf(t, m["messages"]); got != want {
		t.Errorf("messages:\n got %s\nwant %s", got, want)
	}
	if info.Store || info.PreviousResponseID != "resp_0" {
		t.Errorf("info %+v", info)
	}
}

func TestToChatErrors(t *testing.T) {
	tests := []struct{ name, body, param string }{
		{"not json", `{`, ""},
		{"no model", `{"input":"x"}`, "model"},
		{"no input", `{"model":"m"}`, "input"},
		{"item_reference", `{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}`, "input[0].type"},
		{"tool without name", `{"model":"m","input":"x","tools":[{"type":"function"}]}`, "tools[0].name"},
		{"custom tool_choice without name", `{"model":"m","input":"x","tool_choice":{"type":"custom"}}`, "tool_choice"},
		{"bad role", `{"model":"m","input":[{"role":"tool","content":"x"}]}`, "input[0].role"},
		{"file part", `{"model":"m","input":[{"role":"user","content":[{"type":"input_file","file_id":"f"}]}]}`, "input[0].content[0].type"},
		{"call without id", `{"model":"m","input":[{"type":"function_call","name":"f"}]}`, "input[0].call_id"},
		{"bad format", `{"model":"m","input":"x","text":{"format":{"type":"xml"}}}`, "text.format.type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ToChat([]byte(tt.body))
			var oe *openai.Error
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v, want *openai.Error", err)
			}
			if oe.Status != 400 || oe.Type != "invalid_request_error" || oe.Param != tt.param {
				t.Errorf("got %d %s param %q (%s), want 400 param %q", oe.Status, oe.Type, oe.Param, oe.Message, tt.param)
			}
		})
	}
}

func TestFromChatIncompleteAndEcho(t *testing.T) {
	_, info, err := ToChat([]byte(`{"model":"m","input":"hi","instructions":"be brief","max_output_tokens":3,"temperature":0.5,"tools":[{"type":"function","name":"f"}],"metadata":{"k":"v"}}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := FromChat([]byte(`{"id":"c","created":5,"model":"m","choices":[{"message":{"content":"abc"},"finish_reason":"length"}],"usage":{"prompt_tokens":4,"completion_tokens":3,"total_tokens":7}}`), info)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Status            string
		IncompleteDetails map[string]string `json:"incomplete_details"`
		Instructions      string
		MaxOutputTokens   int     `json:"max_output_tokens"`
		Temperature       float64 `json:"temperature"`
		Tools             []map[string]any
		Metadata          map[string]string
		Store             bool
		Output            []struct{ Status string }
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if r.Status != "incomplete" || r.IncompleteDetails["reason"] != "max_output_tokens" || r.Output[0].Status != "incomplete" {
		t.Errorf("status %s %v %v", r.Status, r.IncompleteDetails, r.Output)
	}
	if r.Instructions != "be brief" || r.MaxOutputTokens != 3 || r.Temperature != 0.5 || len(r.Tools) != 1 || r.Metadata["k"] != "v" || !r.Store {
		t.Errorf("echo: %s", out)
	}
}

type recorded struct {
	names    []string
	data     []string
	building string // the event Begin started
}

func (r *recorded) emit(name string, data []byte) error {
	if !json.Valid(data) {
		return errors.New("invalid JSON: " + string(data))
	}
	r.names = append(r.names, name)
	r.data = append(r.data, string(bytes.Clone(data)))
	return nil
}

func TestStreamParallelCallsAndFail(t *testing.T) {
	var r recorded
	s := NewStream(RequestInfo{Model: "m"})
	for _, c := range []string{
		`{"id":"c","model":"m","choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]}}]}`,
		`{"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"}"}}]}}]}`,
		`{"id":"c","choices":[{"delta":{"tool_calls":[{"index":1,"id":"b","function":{"name":"g","arguments":"{}"}}]}}]}`,
	} {
		if err := s.Chunk([]byte(c), r.emit); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(r.emit); err != nil { // each chunk flushed as it comes
			t.Fatal(err)
		}
	}
	if err := s.Fail(openai.NewError(502, "upstream broke", ""), r.emit); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(r.emit); err != nil {
		t.Fatal(err)
	}
	want := []string{"response.created", "response.in_progress",
		"response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
		"response.function_call_arguments.done", "response.output_item.done",
		"response.output_item.added", "response.function_call_arguments.delta",
		"response.failed"}
	if diff := cmp.Diff(want, r.names); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if !strings.Contains(r.data[5], `"arguments":"{}"`) || !strings.Contains(r.data[7], `"output_index":1`) {
		t.Errorf("done %s / added %s", r.data[5], r.data[7])
	}
	last := r.data[len(r.data)-1]
	if !strings.Contains(last, `"status":"failed"`) || !strings.Contains(last, `"error":{"code":"server_error","message":"upstream broke"}`) {
		t.Errorf("response.failed: %s", last)
	}
}

func TestStreamIncomplete(t *testing.T) {
	var r recorded
	s := NewStream(RequestInfo{})
	if err := s.Chunk([]byte(`{"id":"c","choices":[{"delta":{"content":"ab"},"finish_reason":"length"}]}`), r.emit); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(r.emit); err != nil { // each chunk flushed as it comes
		t.Fatal(err)
	}
	if err := s.Finish(r.emit); err != nil {
		t.Fatal(err)
	}
	if r.names[len(r.names)-1] != "response.incomplete" || !strings.Contains(r.data[len(r.data)-1], `"incomplete_details":{"reason":"max_output_tokens"}`) {
		t.Errorf("events %v\nlast %s", r.names, r.data[len(r.data)-1])
	}
}

// Codex-style tools: hosted tools are dropped (and reported), custom
// freeform tools travel as functions taking {"input": string} and come back
// as custom_tool_call items, streamed or not; their calls and outputs in
// the history become tool calls and tool messages.
func TestCustomAndHostedTools(t *testing.T) {
	body := `{"model":"m","tools":[
		{"type":"web_search"},{"type":"local_shell"},
		{"type":"custom","name":"apply_patch","description":"Apply a patch","format":{"type":"grammar","syntax":"lark","definition":"start: x"}},
		{"type":"function","name":"shell","parameters":{"type":"object"}}],
		"input":[{"role":"user","content":"fix it"},
		{"type":"custom_tool_call","call_id":"c0","name":"apply_patch","input":"*** Begin Patch"},
		{"type":"custom_tool_call_output","call_id":"c0","output":"Done"}]}`
	m, info := chatOf(t, body)
	if diff := cmp.Diff([]string{"web_search", "local_shell"}, info.DroppedTools); diff != "" {
		t.Errorf("DroppedTools (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"apply_patch"}, info.CustomTools); diff != "" {
		t.Errorf("CustomTools (-want +got):\n%s", diff)
	}
	wantTools := `[{"function":{"description":"Apply a patch","name":"apply_patch","parameters":{"properties":{"input":{"description":"The tool input, as free text.","type":"string"}},"required":["input"],"type":"object"}},"type":"function"},{"function":{"name":"shell","parameters":{"type":"object"}},"type":"function"}]`
	if got := jsonOf(t, m["tools"]); got != wantTools {
		t.Errorf("tools:\n got %s\nwant %s", got, wantTools)
	}
	wantMsgs := `[{"content":"fix it","role":"user"},{"content":"","reasoning_content":"","role":"assistant","tool_calls":[{"function":{"arguments":"{\"input\":\"*** Begin Patch\"}","name":"apply_patch"},"id":"c0","type":"function"}]},{"content":"Done","role":"tool","tool_call_id":"c0"}]`
	if got := jsonOf(t, m["messages"]); got != wantMsgs {
		t.Errorf("messages:\n got %s\nwant %s", got, wantMsgs)
	}

	completion := `{"id":"x","created":1,"model":"m","choices":[{"message":{"content":"","tool_calls":[` +
		`{"id":"c1","type":"function","function":{"name":"apply_patch","arguments":"{\"input\":\"*** Begin Patch\\n\"}"}},` +
		`{"id":"c2","type":"function","function":{"name":"shell","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`
	out, err := FromChat([]byte(completion), info)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Output []map[string]any
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Output) != 2 || r.Output[0]["type"] != "custom_tool_call" || r.Output[0]["input"] != "*** Begin Patch\n" ||
		r.Output[0]["call_id"] != "c1" || r.Output[1]["type"] != "function_call" {
		t.Errorf("output %v", r.Output)
	}

	var rec recorded
	s := NewStream(info)
	for _, c := range []string{
		`{"id":"x","choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"apply_patch","arguments":"{\"input\":"}}]}}]}`,
		`{"id":"x","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"abc\"}"}}]}}]}`,
		`{"id":"x","choices":[{"delta":{},"finish_reason":"tool_calls"}]}`,
	} {
		if err := s.Chunk([]byte(c), rec.emit); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(rec.emit); err != nil { // each chunk flushed as it comes
			t.Fatal(err)
		}
	}
	if err := s.Finish(rec.emit); err != nil {
		t.Fatal(err)
	}
	want := []string{"response.created", "response.in_progress", "response.output_item.added",
		"response.custom_tool_call_input.delta", "response.custom_tool_call_input.done",
		"response.output_item.done", "response.completed"}
	if diff := cmp.Diff(want, rec.names); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if !strings.Contains(rec.data[4], `"input":"abc"`) || !strings.Contains(rec.data[5], `"type":"custom_tool_call"`) {
		t.Errorf("custom call events: %s / %s", rec.data[4], rec.data[5])
	}
}

// Chat tool messages carry text only: images in tool outputs move to a user
// message after the run of tool messages.
func TestToolOutputImages(t *testing.T) {
	m, _ := chatOf(t, `{"model":"m","input":[{"role":"user","content":"look"},
		{"type":"function_call","call_id":"a","name":"shot","arguments":"{}"},
		{"type":"function_call","call_id":"b","name":"shot","arguments":"{}"},
		{"type":"function_call_output","call_id":"a","output":[{"type":"input_image","image_url":"data:image/png;base64,AAAA"}]},
		{"type":"function_call_output","call_id":"b","output":"none"}]}`)
	want := `[{"content":"look","role":"user"},` +
		`{"content":"","reasoning_content":"","role":"assistant","tool_calls":[{"function":{"arguments":"{}","name":"shot"},"id":"a","type":"function"},{"function":{"arguments":"{}","name":"shot"},"id":"b","type":"function"}]},` +
		`{"content":"[1 image(s) from this tool output are attached to the next user message]","role":"tool","tool_call_id":"a"},` +
		`{"content":"none","role":"tool","tool_call_id":"b"},` +
		`{"content":[{"text":"[image(s) from tool output a]","type":"text"},{"image_url":{"url":"data:image/png;base64,AAAA"},"type":"image_url"}],"role":"user"}]`
	if got := jsonOf(t, m["messages"]); got != want {
		t.Errorf("messages:\n got %s\nwant %s", got, want)
	}
}

func TestMissingCallIDs(t *testing.T) {
	var r recorded
	s := NewStream(RequestInfo{})
	if err := s.Chunk([]byte(`{"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]}}]}`), r.emit); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(r.emit); err != nil { // each chunk flushed as it comes
		t.Fatal(err)
	}
	if !strings.Contains(r.data[2], `"call_id":"call_c_0"`) {
		t.Errorf("item added %s", r.data[2])
	}
	out, err := FromChat([]byte(`{"id":"c","choices":[{"message":{"tool_calls":[{"function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`), RequestInfo{})
	if err != nil || !strings.Contains(string(out), `"call_id":"call_c_0"`) {
		t.Errorf("FromChat %s %v", out, err)
	}
}

// Released Streams are reused (issue 19's CPU): a stream translated on a
// reused Stream is the one a fresh Stream writes, whatever the previous
// one held (reasoning, text, tools, usage, another id and model).
func TestStreamReleasedAndReused(t *testing.T) {
	first := []string{
		`{"id":"a","model":"m1","created":1,"choices":[{"delta":{"reasoning_content":"think"}}]}`,
		`{"id":"a","choices":[{"delta":{"content":"text"}}]}`,
		`{"id":"a","choices":[{"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{}"}}]}}]}`,
		`{"id":"a","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`,
	}
	second := []string{
		`{"id":"b","model":"m2","created":2,"choices":[{"delta":{"content":"other"}}]}`,
		`{"id":"b","choices":[{"delta":{},"finish_reason":"stop"}]}`,
	}
	translate := func(info RequestInfo, chunks []string) []string {
		var r recorded
		s := NewStream(info)
		defer s.Release()
		for _, c := range chunks {
			if err := s.Chunk([]byte(c), r.emit); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(r.emit); err != nil { // each chunk flushed as it comes
				t.Fatal(err)
			}
		}
		if err := s.Finish(r.emit); err != nil {
			t.Fatal(err)
		}
		return r.data
	}
	want := translate(RequestInfo{Model: "asked"}, second)
	for range 3 {
		translate(RequestInfo{Model: "first", Instructions: json.RawMessage(`"long instructions"`)}, first)
		if diff := cmp.Diff(want, translate(RequestInfo{Model: "asked"}, second)); diff != "" {
			t.Fatalf("reused Stream (-fresh +reused):\n%s", diff)
		}
	}
}

// The chunks that reach the translator between two flushes (a burst: a
// replayed answer, an engine ahead of its client) become one delta per
// item, with their texts in order; a failure sends what came before it.
func TestStreamBurstDeltas(t *testing.T) {
	var r recorded
	s := NewStream(RequestInfo{Model: "m"})
	for _, c := range []string{
		`{"id":"c","model":"m","choices":[{"delta":{"reasoning_content":"think "}}]}`,
		`{"id":"c","choices":[{"delta":{"reasoning_content":"\"more\""}}]}`,
		`{"id":"c","choices":[{"delta":{"content":"a"}}]}`,
		`{"id":"c","choices":[{"delta":{"content":"b"}}]}`,
	} {
		if err := s.Chunk([]byte(c), r.emit); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(r.emit); err != nil {
		t.Fatal(err)
	}
	if err := s.Chunk([]byte(`{"id":"c","choices":[{"delta":{"content":"c"}}]}`), r.emit); err != nil {
		t.Fatal(err)
	}
	if err := s.Fail(openai.NewError(502, "upstream broke", ""), r.emit); err != nil {
		t.Fatal(err)
	}
	var deltas []string
	for i, name := range r.names {
		if strings.HasSuffix(name, ".delta") {
			deltas = append(deltas, name+" "+r.data[i][strings.Index(r.data[i], `"delta":`):])
		}
	}
	want := []string{
		`response.reasoning_text.delta "delta":"think \"more\""}`,
		`response.output_text.delta "delta":"ab","logprobs":[]}`,
		`response.output_text.delta "delta":"c","logprobs":[]}`,
	}
	if diff := cmp.Diff(want, deltas); diff != "" {
		t.Fatalf("deltas (-want +got):\n%s", diff)
	}
	if last := r.names[len(r.names)-1]; last != "response.failed" {
		t.Errorf("last event %s", last)
	}
}

// Begin and End make r a chatwire.EventBuffer (Stream.SetBuffer): an
// event built in place is recorded as an emitted one is.
func (r *recorded) Begin(event string) []byte {
	r.building = event
	return append(append([]byte("event: "), event...), "\ndata: "...)
}

func (r *recorded) End(b []byte) error {
	return r.emit(r.building, b[len("event: ")+len(r.building)+len("\ndata: "):])
}

// The delta events a Stream builds in place (SetBuffer) are those it
// emits otherwise, whatever the stream: texts, reasoning, tool calls,
// custom tools, a burst flushed once, a cut answer, a failure.
func TestStreamDeltasBuiltInPlace(t *testing.T) {
	custom := RequestInfo{Model: "m", Tools: []byte(`[{"type":"custom","name":"patch"}]`)}
	for _, tc := range []struct {
		info   RequestInfo
		chunks []string
		burst  bool // flushed once, at the end
		fail   bool
	}{
		{RequestInfo{Model: "m"}, []string{
			`{"id":"c","model":"m","choices":[{"delta":{"role":"assistant","reasoning_content":"think "}}]}`,
			`{"id":"c","choices":[{"delta":{"reasoning_content":"\"more\""}}]}`,
			`{"id":"c","choices":[{"delta":{"content":"caf\u00e9 "}}]}`,
			`{"id":"c","choices":[{"delta":{"content":"b"}}]}`,
			`{"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"f","arguments":"{"}}]}}]}`,
			`{"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"}"}}]}}]}`,
			`{"id":"c","choices":[{"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}`,
		}, false, false},
		{custom, []string{
			`{"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"name":"patch","arguments":"{\"input\":\"x"}}]}}]}`,
			`{"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"y\"}"}}]}}]}`,
		}, false, false},
		{RequestInfo{Model: "m"}, []string{
			`{"id":"c","choices":[{"delta":{"content":"a"}}]}`,
			`{"id":"c","choices":[{"delta":{"content":"b"}}]}`,
			`{"id":"c","choices":[{"delta":{"content":"c"},"finish_reason":"length"}]}`,
		}, true, false},
		{RequestInfo{Model: "m"}, []string{
			`{"id":"c","choices":[{"delta":{"content":"a"}}]}`,
			`{"id":"c","choices":[{"delta":{"content":"b"}}]}`,
		}, false, true},
	} {
		var emitted, inPlace recorded
		for _, r := range []*recorded{&emitted, &inPlace} {
			s := NewStream(tc.info)
			if r == &inPlace {
				s.SetBuffer(r)
			}
			for _, c := range tc.chunks {
				if err := s.Chunk([]byte(c), r.emit); err != nil {
					t.Fatal(err)
				}
				if !tc.burst {
					if err := s.Flush(r.emit); err != nil {
						t.Fatal(err)
					}
				}
			}
			var err error
			if tc.fail {
				err = s.Fail(openai.NewError(502, "upstream broke", ""), r.emit)
			} else {
				err = s.Finish(r.emit)
			}
			if err != nil {
				t.Fatal(err)
			}
			s.Release()
		}
		if diff := cmp.Diff(emitted, inPlace, cmp.AllowUnexported(recorded{}), cmpopts.IgnoreFields(recorded{}, "building")); diff != "" {
			t.Errorf("%s: deltas built in place (-emitted +in place):\n%s", tc.chunks[0], diff)
		}
		n := 0
		for _, name := range inPlace.names {
			if strings.HasSuffix(name, ".delta") {
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s: no delta", tc.chunks[0])
		}
	}
}
