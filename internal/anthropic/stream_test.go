package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

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

// Begin and End make r a chatwire.EventBuffer (Stream.SetBuffer): an
// event built in place is recorded as an emitted one is.
func (r *recorded) Begin(event string) []byte {
	r.building = event
	return append(append([]byte("event: "), event...), "\ndata: "...)
}

func (r *recorded) End(b []byte) error {
	return r.emit(r.building, b[len("event: ")+len(r.building)+len("\ndata: "):])
}

// run streams chunks, each flushed as it comes, then finishes: the events
// are the same whether the deltas are emitted or built in place.
func run(t *testing.T, chunks ...string) *recorded {
	t.Helper()
	r := runWith(t, false, chunks...)
	inPlace := runWith(t, true, chunks...)
	if diff := cmp.Diff(r, inPlace, cmp.AllowUnexported(recorded{}), cmpopts.IgnoreFields(recorded{}, "building")); diff != "" {
		t.Errorf("deltas built in place (-emitted +in place):\n%s", diff)
	}
	return r
}

func runWith(t *testing.T, inPlace bool, chunks ...string) *recorded {
	t.Helper()
	var r recorded
	s := NewStream(RequestInfo{Model: "asked"})
	defer s.Release()
	if inPlace {
		s.SetBuffer(&r)
	}
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
	if err := s.Finish(r.emit); err != nil { // a second Finish is a no-op
		t.Fatal(err)
	}
	return &r
}

func TestStreamParallelToolCalls(t *testing.T) {
	r := run(t,
		`{"id":"c","model":"m","choices":[{"delta":{"role":"assistant","content":"ok "}}]}`,
		`{"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","type":"function","function":{"name":"f","arguments":"{\"x\""}}]}}]}`,
		`{"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"id":"a","function":{"arguments":":1}"}}]}}]}`,
		`{"id":"c","choices":[{"delta":{"tool_calls":[{"index":1,"id":"b","type":"function","function":{"name":"g","arguments":"{}"}}]}}]}`,
		`{"id":"c","choices":[{"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":7,"completion_tokens":2}}`,
	)
	want := []string{"message_start", "ping",
		"content_block_start", "content_block_delta", "content_block_stop",
		"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
		"content_block_start", "content_block_delta", "content_block_stop",
		"message_delta", "message_stop"}
	if diff := cmp.Diff(want, r.names); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	if !strings.Contains(r.data[9], `"index":2,"content_block":{"type":"tool_use","id":"b","name":"g"`) {
		t.Errorf("second tool block: %s", r.data[9])
	}
	if want := `{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"input_tokens":7,"cache_read_input_tokens":0,"output_tokens":2}}`; r.data[12] != want {
		t.Errorf("message_delta %s", r.data[12])
	}
}

func TestStreamEmptyAndLength(t *testing.T) {
	r := run(t)
	want := []string{"message_start", "ping", "message_delta", "message_stop"}
	if diff := cmp.Diff(want, r.names); diff != "" {
		t.Errorf("empty stream (-want +got):\n%s", diff)
	}
	r = run(t, `{"id":"c","model":"m","choices":[{"delta":{"content":"abc"},"finish_reason":"length"}]}`)
	if !strings.Contains(r.data[len(r.data)-2], `"stop_reason":"max_tokens"`) {
		t.Errorf("length: %s", r.data[len(r.data)-2])
	}
	if !strings.Contains(r.data[0], `"model":"m"`) || !strings.Contains(r.data[0], `"id":"msg_c"`) {
		t.Errorf("message_start: %s", r.data[0])
	}
}

func TestStreamFail(t *testing.T) {
	var r recorded
	s := NewStream(RequestInfo{})
	if err := s.Chunk([]byte(`{"id":"c","choices":[{"delta":{"content":"a"}}]}`), r.emit); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(r.emit); err != nil { // each chunk flushed as it comes
		t.Fatal(err)
	}
	if err := s.Fail(&Error{Status: 529, Type: "overloaded_error", Message: "busy"}, r.emit); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(r.emit); err != nil {
		t.Fatal(err)
	}
	last := r.data[len(r.data)-1]
	if r.names[len(r.names)-1] != "error" || last != `{"type":"error","error":{"type":"overloaded_error","message":"busy"}}` {
		t.Errorf("events %v, last %s", r.names, last)
	}
	if err := s.Chunk([]byte(`{`), r.emit); err == nil {
		t.Error("bad chunk accepted")
	}
}

// An emit error (the client went away) stops the translation.
func TestStreamEmitError(t *testing.T) {
	boom := errors.New("gone")
	s := NewStream(RequestInfo{})
	err := s.Chunk([]byte(`{"id":"c","choices":[{"delta":{"content":"a"}}]}`), func(string, []byte) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
}

// Some engines send tool calls without IDs; the client still needs one to
// answer with a tool_result.
func TestStreamAndFromChatMakeMissingCallIDs(t *testing.T) {
	r := run(t,
		`{"id":"c","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]}}]}`,
		`{"id":"c","choices":[{"delta":{"tool_calls":[{"index":1,"function":{"name":"g","arguments":"{}"}}]}}]}`,
	)
	if !strings.Contains(r.data[2], `"id":"call_c_0"`) || !strings.Contains(r.data[5], `"id":"call_c_1"`) {
		t.Errorf("tool blocks %s / %s", r.data[2], r.data[5])
	}
	out, err := FromChat([]byte(`{"id":"c","choices":[{"message":{"tool_calls":[{"function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`), RequestInfo{})
	if err != nil || !strings.Contains(string(out), `"id":"call_c_0"`) {
		t.Errorf("FromChat %s %v", out, err)
	}
}

// Released Streams are reused (issue 19's CPU): a stream translated on a
// reused Stream is the one a fresh Stream writes, thinking signature
// included, whatever the previous one held.
func TestStreamReleasedAndReused(t *testing.T) {
	first := []string{
		`{"id":"a","model":"m1","choices":[{"delta":{"reasoning_content":"think"}}]}`,
		`{"id":"a","choices":[{"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{}"}}]}}]}`,
	}
	second := []string{
		`{"id":"b","model":"m2","choices":[{"delta":{"reasoning_content":"other "}}]}`,
		`{"id":"b","choices":[{"delta":{"content":"answer"}}]}`,
		`{"id":"b","choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
	}
	translate := func(chunks []string, finish bool) []string {
		var r recorded
		s := NewStream(RequestInfo{Model: "asked"})
		defer s.Release()
		for _, c := range chunks {
			if err := s.Chunk([]byte(c), r.emit); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(r.emit); err != nil { // each chunk flushed as it comes
				t.Fatal(err)
			}
		}
		if !finish {
			return nil
		}
		if err := s.Finish(r.emit); err != nil {
			t.Fatal(err)
		}
		return r.data
	}
	want := translate(second, true)
	for range 3 {
		translate(first, true)
		translate(first[:1], false) // a client gone in a thinking block: the signer holds text
		if diff := cmp.Diff(want, translate(second, true)); diff != "" {
			t.Fatalf("reused Stream (-fresh +reused):\n%s", diff)
		}
	}
}

// The chunks that reach the translator between two flushes (a burst: a
// replayed answer, an engine ahead of its client) become one delta per
// block, with their texts in order; a failure sends what came before it.
func TestStreamBurstDeltas(t *testing.T) {
	var r recorded
	s := NewStream(RequestInfo{Model: "asked"})
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
	if err := s.Fail(&Error{Status: 502, Type: "api_error", Message: "upstream broke"}, r.emit); err != nil {
		t.Fatal(err)
	}
	var deltas []string
	for i, name := range r.names {
		if name == "content_block_delta" && !strings.Contains(r.data[i], "signature_delta") {
			deltas = append(deltas, r.data[i])
		}
	}
	want := []string{
		`{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"think \"more\""}}`,
		`{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"ab"}}`,
		`{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"c"}}`,
	}
	if diff := cmp.Diff(want, deltas); diff != "" {
		t.Fatalf("deltas (-want +got):\n%s", diff)
	}
	if last := r.names[len(r.names)-1]; last != "error" {
		t.Errorf("last event %s", last)
	}
}

// A prefill (a trailing assistant message) is continued, not repeated:
// an engine that starts its answer with it (llama.cpp's server) has it
// dropped, streamed in any pieces, not streamed, whatever its escapes;
// an answer that does not repeat it is sent whole, however it begins.
func TestPrefillNotRepeated(t *testing.T) {
	const prefill = `Hello "world"!`
	_, info, err := ToChat([]byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"Hello \"world\"!"}]}`))
	if err != nil || info.Prefill != prefill {
		t.Fatalf("ToChat: prefill %q, %v; want %q", info.Prefill, err, prefill)
	}
	chunk := func(text string) string {
		b, _ := json.Marshal(text)
		return `{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":` + string(b) + `}}]}`
	}
	for _, c := range []struct {
		name   string
		pieces []string
		want   string
	}{
		{"repeated", []string{`Hello "world"! How`, ` are you?`}, ` How are you?`},
		{"repeated in pieces", []string{`Hel`, `lo "wor`, `ld"!`, ` Fine.`}, ` Fine.`},
		{"not repeated", []string{` How`, ` are you?`}, ` How are you?`},
		{"starts alike", []string{`Hel`, `p is here.`}, `Help is here.`},
		{"ends inside it", []string{`Hello`}, `Hello`},
		{"only the prefill", []string{`Hello "world"!`}, ``},
	} {
		t.Run(c.name, func(t *testing.T) {
			var r recorded
			s := NewStream(RequestInfo{Model: "m", Prefill: prefill})
			for _, p := range c.pieces {
				if err := s.Chunk([]byte(chunk(p)), r.emit); err != nil {
					t.Fatal(err)
				}
				if err := s.Flush(r.emit); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Finish(r.emit); err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for i, name := range r.names {
				var d struct{ Delta struct{ Text string } }
				if name == "content_block_delta" && json.Unmarshal([]byte(r.data[i]), &d) == nil {
					got.WriteString(d.Delta.Text)
				}
			}
			if got.String() != c.want {
				t.Errorf("stream: text %q, want %q (events %v)", got.String(), c.want, r.names)
			}
			whole := `{"id":"c","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":` +
				func() string { b, _ := json.Marshal(strings.Join(c.pieces, "")); return string(b) }() + `},"finish_reason":"stop"}]}`
			out, err := FromChat([]byte(whole), RequestInfo{Model: "m", Prefill: prefill})
			if err != nil {
				t.Fatal(err)
			}
			var m struct{ Content []struct{ Type, Text string } }
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			text := ""
			for _, b := range m.Content {
				text += b.Text
			}
			if text != c.want {
				t.Errorf("FromChat: text %q, want %q: %s", text, c.want, out)
			}
		})
	}
}
