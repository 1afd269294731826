package chatwire

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Decode must read what encoding/json reads (for choice 0).
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	bodies := []string{
		`{"id":"a","object":"chat.completion","created":7,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"caf\u00e9 \"x\"\n","reasoning_content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"},{"index":1,"message":{"content":"second"}}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":1}}}`,
		`{"id":"a","choices":[],"usage":{"prompt_tokens":5,"prompt_cache_hit_tokens":4,"prompt_cache_miss_tokens":1}}`,
		`{"id":"a","choices":[{"delta":{"tool_calls":[{"index":1,"function":{"arguments":"}"}}]},"finish_reason":null}],"usage":null}`,
		` {"choices":[{"delta":{"content":"\ud83d\ude00 ok"}}]} `,
	}
	for _, name := range []string{"chat_response_tool.json", "chat_response_text.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	for _, f := range []string{"chat_stream_tool.sse", "chat_stream_text.sse"} {
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && d != "[DONE]" {
				bodies = append(bodies, d)
			}
		}
	}
	var reused Completion
	for _, body := range bodies {
		var want Completion
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Fatal(err)
		}
		if len(want.Choices) > 1 {
			want.Choices = want.Choices[:1]
		}
		if len(want.Choices) == 1 {
			// Decode fills both views of the one message.
			if want.Choices[0].Message.Role == "" && want.Choices[0].Message.Content == "" {
				want.Choices[0].Message = want.Choices[0].Delta
			} else {
				want.Choices[0].Delta = want.Choices[0].Message
			}
		}
		for _, got := range []*Completion{{}, &reused} {
			if err := Decode([]byte(body), got); err != nil {
				t.Fatalf("Decode(%s): %v", body, err)
			}
			if diff := cmp.Diff(want, *got, cmpopts.IgnoreUnexported(Completion{}), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Decode(%s) (-json +Decode):\n%s", body, diff)
			}
		}
	}
	if err := Decode([]byte(`{"id":`), &reused); err != ErrInvalid {
		t.Errorf("truncated body: %v", err)
	}
}

// Decoding a stream's chunks into one Completion allocates only for the
// text they carry.
func TestDecodeChunkAllocs(t *testing.T) {
	chunk := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"deepseek-chat","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}`)
	var c Completion
	if err := Decode(chunk, &c); err != nil {
		t.Fatal(err)
	}
	limit := 2.0
	if raceEnabled {
		limit++ // the race detector's own allocation
	}
	if a := testing.AllocsPerRun(100, func() { _ = Decode(chunk, &c) }); a > limit {
		t.Errorf("Decode allocates %v times per chunk, want at most %v", a, limit)
	}
}

// DecodeChunk reads what Decode reads, its texts as tokens; it refuses
// what Decode refuses, with the same error.
func TestDecodeChunkMatchesDecode(t *testing.T) {
	bodies := []string{
		`{"id":"a","object":"chat.completion","created":7,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"caf\u00e9 \"x\"\n","reasoning_content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"},{"index":1,"message":{"content":"second"}}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":3},"completion_tokens_details":{"reasoning_tokens":1}}}`,
		`{"id":"a","choices":[],"usage":{"prompt_tokens":5,"prompt_cache_hit_tokens":4,"prompt_cache_miss_tokens":1}}`,
		`{"id":"a","choices":[{"delta":{"tool_calls":[{"index":1,"function":{"arguments":"}"}},{"index":2,"id":"x","function":{"name":"g"}}]},"finish_reason":null}],"usage":null}`,
		` {"choices":[{"delta":{"content":"\ud83d\ude00 ok","refusal":"no","reasoning_content":7}}]} `,
		`{"choices":{}}`, `{"choices":[{"delta":"x"}]}`, `{"choices":[{"delta":{"tool_calls":{}}}]}`,
		`{"choices":[{"delta":{"tool_calls":[{"function":[]}]}}]}`, `{"usage":[]}`, `[]`, `{"id":"a"`, `{"a":1}}`,
		`null`, `"x"`, `{"choices":[null]}`, `{"choices":[1,{}]}`, `{"choices":null,"usage":null,"id":null}`,
		` { "id" : "a" , "choices" : [ { "delta" : { "content" : "x" } , "finish_reason" : "stop" } ] } `,
		// Malformed where DecodeChunk checks as it reads (it has no pass
		// before): in the members it reads, in those it skips, after the
		// object, and after a shape error.
		`{"choices":[{"delta":{"content":"x"}}]} x`, `{"id":"a",}`, `{"a" 1}`, `{"a":1 "b":2}`, `{,}`, `{"a":nul}`,
		`{"choices":[{"delta":{"content":"x\q"}}]}`, `{"choices":[{"delta":{"content":"x"},"z":tru}]}`,
		`{"choices":[{},{]}`, `{"choices":[{} {}]}`, `{"choices":[{"delta":"x"}],"a":}`, `{"choices":[{"delta":{"tool_calls":[{"index":1,}]}}]}`,
		`{"usage":{"prompt_tokens":01}}`, `{"created":1.}`, `{"created":-5}`, `{"created":1.5}`, `{"created":99999999999999999999}`, `{"created":1234567890123456789}`, "{\"model\":\"m\x01\"}", "{\"id\":\"a\"\n}", `{"x":[[[[[[[[[[]]]]]]]]]]}`, `{"choices":[`, `{"choices":[{"delta":{`, `{`, ``,
		// Keys given twice: the second replaces the first, as in Decode
		// (found by a review).
		`{"choices":[{"delta":{"content":"a"},"finish_reason":"stop"}],"choices":[{"delta":{"refusal":"r"}}]}`,
		`{"usage":{"prompt_tokens":1},"usage":{"completion_tokens":2}}`, `{"usage":{"prompt_tokens":1},"usage":null}`,
		`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f"}}]}}],"choices":[{"delta":{"tool_calls":[{"index":1,"function":{"name":"g"}}]}}]}`,
		`{"choices":[{"delta":{"content":"a"}}],"choices":[]}`,
	}
	for _, f := range []string{"chat_stream_tool.sse", "chat_stream_text.sse"} {
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && d != "[DONE]" {
				bodies = append(bodies, d)
			}
		}
	}
	var reused Chunk
	for _, body := range bodies {
		checkDecodeChunk(t, []byte(body), &reused)
	}
}

func FuzzDecodeChunk(f *testing.F) {
	for _, s := range []string{`{"id":"a","choices":[{"delta":{"content":"x","tool_calls":[{"index":0,"function":{"arguments":"{}"}}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":1}}`, `{"choices":[null]}`} {
		f.Add(s)
	}
	var reused Chunk
	f.Fuzz(func(t *testing.T, body string) {
		checkDecodeChunk(t, []byte(body), &reused)
	})
}

// A chunk read from the template of the chunk before (template.go) reads
// as it does alone; one that only looks like it (another kind of value, a
// second string, a bad escape) is walked, and refused where Decode refuses
// it. The fields come from the template, not from the Chunk, which its
// reader may have changed.
func TestDecodeChunkTemplate(t *testing.T) {
	const (
		content = `{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":%s},"finish_reason":null}]}`
		args    = `{"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":2,"id":"call_1","function":{"name":"f","arguments":%s}}]}}]}`
	)
	texts := []string{`"b"`, `""`, `"caf\u00e9 \"x\"\n"`, `"\ud83d\ude00"`, `null`, `7`, `{}`, `"a","content":"b"`, `"a"},"x":{"y":"z"`,
		`"x\q"`, `"`, `"a" `, ` "a"`, "\"\x01\"", `"a"}]}`}
	for _, format := range []string{
		content,
		strings.Replace(content, `"content"`, `"reasoning_content"`, 1),
		strings.Replace(content, `"content"`, `"refusal"`, 1),
		strings.Replace(content, `"content":%s`, `"content":"first","content":%s`, 1),
		strings.Replace(content, `"content":%s`, `"content":%s,"content":null`, 1),
		strings.Replace(content, `"finish_reason":null`, `"finish_reason":"stop"`, 1),
		args,
	} {
		for _, text := range texts {
			var reused Chunk
			if err := DecodeChunk(fmt.Appendf(nil, format, `"a"`), &reused); err != nil {
				t.Fatal(err)
			}
			if reused.tmpl.slot == noTemplate {
				t.Errorf("%s: no template", format)
			}
			// What a translator does to the chunk it read.
			reused.ID, reused.Model, reused.FinishReason, reused.Content = "changed", "changed", "changed", Token(`"changed"`)
			for i := range reused.ToolCalls {
				reused.ToolCalls[i].ID, reused.ToolCalls[i].Name = "changed", "changed"
			}
			checkDecodeChunk(t, fmt.Appendf(nil, format, text), &reused)
		}
	}
	// Chunks that are no template: two texts, usage, no text, two calls.
	for _, body := range []string{
		`{"choices":[{"delta":{"content":"a","reasoning_content":"b"}}]}`,
		`{"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":1}}`,
		`{"choices":[{"delta":{"role":"assistant"}}]}`,
		`{"choices":[{"delta":{"tool_calls":[{"function":{"arguments":"a"}},{"function":{"arguments":"b"}}]}}]}`,
		`{"choices":[{"delta":{"content":"a","tool_calls":[{"function":{"arguments":"b"}}]}}]}`,
		`{"choices":[{"delta":{"tool_calls":[{"function":{"name":"f"}}]}}]}`,
	} {
		var c Chunk
		if err := DecodeChunk([]byte(body), &c); err != nil || c.tmpl.slot != noTemplate {
			t.Errorf("DecodeChunk(%s): %v, template %d", body, err, c.tmpl.slot)
		}
	}
}

// FuzzDecodeChunkTemplate decodes prefix "a" suffix, then prefix text
// suffix into the same Chunk: the second must read as Decode reads it.
func FuzzDecodeChunkTemplate(f *testing.F) {
	f.Add(`{"id":"c1","choices":[{"index":0,"delta":{"content":`, `},"finish_reason":null}]}`, `"b"`)
	f.Add(`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":`, `}}]}}]}`, `"{\"a\":1}"`)
	f.Add(`{"choices":[{"delta":{"reasoning_content":`, `}}]}`, `"a","content":"b"`)
	f.Fuzz(func(t *testing.T, prefix, suffix, text string) {
		var c Chunk
		if DecodeChunk([]byte(prefix+`"a"`+suffix), &c) != nil {
			return
		}
		checkDecodeChunk(t, []byte(prefix+text+suffix), &c)
	})
}

func checkDecodeChunk(t *testing.T, body []byte, reused *Chunk) {
	t.Helper()
	for _, got := range []*Chunk{{}, reused} {
		err := DecodeChunk(body, got)
		sameAsDecode(t, "DecodeChunk", body, got, err)
	}
}

// sameAsDecode compares got, decoded from body by what with err, with
// what Decode reads from body: the same error, or the same fields, tool
// calls and usage.
func sameAsDecode(t *testing.T, what string, body []byte, got *Chunk, err error) {
	t.Helper()
	var want Completion
	wantErr := Decode(body, &want)
	if err != wantErr {
		t.Errorf("%s(%s) = %v, Decode gives %v", what, body, err, wantErr)
		return
	}
	if err != nil {
		return
	}
	ch := want.First()
	calls := make([]ChunkToolCall, 0, len(got.ToolCalls))
	for _, tc := range got.ToolCalls {
		tc.Arguments = Token(tc.Arguments.String())
		calls = append(calls, tc)
	}
	wantCalls := make([]ChunkToolCall, 0, len(ch.Delta.ToolCalls))
	for _, tc := range ch.Delta.ToolCalls {
		wantCalls = append(wantCalls, ChunkToolCall{Index: tc.Index, ID: tc.ID, Name: tc.Function.Name, Arguments: Token(tc.Function.Arguments)})
	}
	gotFields := []string{got.ID, got.Model, got.FinishReason, got.Content.String(), got.ReasoningContent.String(), got.Refusal.String()}
	wantFields := []string{want.ID, want.Model, ch.FinishReason, ch.Delta.Content, ch.Delta.ReasoningContent, ch.Delta.Refusal}
	if diff := cmp.Diff(wantFields, gotFields); diff != "" || got.Created != want.Created {
		t.Errorf("%s(%s) (-Decode +%s), created %d vs %d:\n%s", what, body, what, want.Created, got.Created, diff)
	}
	if diff := cmp.Diff(wantCalls, calls, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("%s(%s) tool calls (-Decode +%s):\n%s", what, body, what, diff)
	}
	if diff := cmp.Diff(want.Usage, got.Usage); diff != "" {
		t.Errorf("%s(%s) usage (-Decode +%s):\n%s", what, body, what, diff)
	}
}

// The template kept from a stream's first chunk leaves its delta's role
// out (template.go): the chunks after it, which have none, are read from
// it, and read as Decode reads them; a chunk that only looks like one of
// them is walked.
func TestDecodeChunkTemplateWithoutRole(t *testing.T) {
	const next = `{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":%s},"finish_reason":null}]}`
	texts := []string{`"b"`, `""`, `"caf\u00e9 \"x\"\n"`, `null`, `7`, `"a","role":"user"`, `"a","content":"b"`, `"x\q"`, `"`, "\"\x01\""}
	for _, tt := range []struct {
		first string
		read  bool // the next chunk is read from the template
	}{
		{`{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`, true},
		{`{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{ "role" : "assistant" , "content":""},"finish_reason":null}]}`, false}, // { "content"
		{`{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"role":null,"content":""},"finish_reason":null}]}`, false},             // a null is passed over
		{`{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","role":"x","content":""},"finish_reason":null}]}`, false},
	} {
		first := tt.first
		var c Chunk
		if err := DecodeChunk([]byte(first), &c); err != nil {
			t.Fatal(err)
		}
		if _, ok := c.tmpl.doc.Match(fmt.Appendf(nil, next, `"The"`)); ok != tt.read {
			t.Errorf("after %s: the next chunk read from the template: %v, want %v", first, ok, tt.read)
		}
		for _, text := range texts {
			reused := c
			reused.ID, reused.Model, reused.Content = "changed", "changed", Token(`"changed"`)
			checkDecodeChunk(t, fmt.Appendf(nil, next, text), &reused)
			checkDecodeChunk(t, []byte(strings.Replace(first, `""`, text, 1)), &reused)
		}
	}
	// A role that is the delta's last member, or after the text, is kept
	// in the template: the next chunk is walked.
	for _, first := range []string{
		`{"id":"c1","choices":[{"index":0,"delta":{"content":"","role":"assistant"}}]}`,
		`{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant"}}]}`,
	} {
		var c Chunk
		if err := DecodeChunk([]byte(first), &c); err != nil {
			t.Fatal(err)
		}
		checkDecodeChunk(t, []byte(`{"id":"c1","choices":[{"index":0,"delta":{"content":"b"}}]}`), &c)
	}
}

// FuzzDecodeChunkTemplateWithoutRole decodes prefix role "a" suffix, then
// prefix text suffix (and, into another Chunk, prefix role text suffix)
// into the same Chunk: the second must read as Decode reads it.
func FuzzDecodeChunkTemplateWithoutRole(f *testing.F) {
	f.Add(`{"id":"c1","choices":[{"index":0,"delta":{`, `"role":"assistant",`, `"content":`, `},"finish_reason":null}]}`, `"b"`)
	f.Add(`{"choices":[{"delta":{`, `"role":"assistant" , `, `"reasoning_content":`, `}}]}`, `"a","content":"b"`)
	f.Fuzz(func(t *testing.T, prefix, role, key, suffix, text string) {
		var c, again Chunk
		first := []byte(prefix + role + key + `"a"` + suffix)
		if DecodeChunk(first, &c) != nil || DecodeChunk(first, &again) != nil {
			return
		}
		checkDecodeChunk(t, []byte(prefix+key+text+suffix), &c)
		checkDecodeChunk(t, []byte(prefix+role+key+text+suffix), &again) // the role again
	})
}

// An engine that gives the role in every chunk (Ollama does) has its
// chunks read from the template too: the first chunk's template without
// the role does not match the second, which has it, and the template with
// it does; from then on that one serves.
func TestDecodeChunkTemplateRoleInEveryChunk(t *testing.T) {
	const chunk = `{"id":"chatcmpl-86","object":"chat.completion.chunk","created":1743277352,"model":"gemma3:4b","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":%s},"finish_reason":null}]}`
	var c Chunk
	var prev []byte
	for i, text := range []string{`"Hello"`, `" you"`, `"!"`, `" How"`, `"\n"`} {
		b := fmt.Appendf(nil, chunk, text)
		if prev != nil { // a Chunk of its own, with the template of the chunk before
			var other Chunk
			if err := DecodeChunk(prev, &other); err != nil {
				t.Fatal(err)
			}
			checkDecodeChunk(t, b, &other)
		}
		switch {
		case c.fromTemplate(b):
		case i > 1: // the first and second are walked
			t.Errorf("chunk %d (%s) not read from the template", i, text)
			fallthrough
		default:
			if err := DecodeChunk(b, &c); err != nil {
				t.Fatal(err)
			}
		}
		if string(c.Content) != text {
			t.Errorf("chunk %d: content %s, want %s", i, c.Content, text)
		}
		prev = b
	}
}
