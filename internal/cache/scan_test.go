package cache

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// scanAnswer reads what encoding/json reads, or says it cannot: issue 22
// took encoding/json off the miss path of every cached request.
var scanCases = []string{
	`{"id":"c","object":"chat.completion","model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4,"prompt_cache_hit_tokens":2,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":5}}}`,
	`{"object":"list","data":[{"embedding":[0.1]}],"model":"e","usage":{"prompt_tokens":2,"total_tokens":2}}`,
	`{"choices":[{"finish_reason":"length"},{"finish_reason":"tool_calls"}]}`,
	`{"choices":[{"finish_reason":"stop"},{"finish_reason":null}]}`, `{"choices":[{"finish_reason":"content_filter"}]}`,
	`{"choices":[null]}`, `{"choices":[]}`, `{"choices":null}`, `{"choices":{}}`, `{"choices":[1]}`, `{"choices":[{}]}`,
	`{"error":{"message":"x"},"choices":[{"finish_reason":"stop"}]}`, `{"error":null,"choices":[{"finish_reason":"stop"}]}`,
	`{"object":"list","data":null}`, `{"object":"list"}`, `{"object":5}`, `{"model":null}`, `{"model":7}`,
	`{"Model":"x","choices":[{"finish_reason":"stop"}]}`, `{"model":"a","model":"b"}`, `{"model":"\u0061"}`, "{\"model\":\"a\xff\"}",
	`{"choices":[{"Finish_Reason":"stop"}]}`, `{"choices":[{"finish_reason":"st\u006fp"}]}`, `{"choices":[{"finish_reason":"stop","finish_reason":null}]}`,
	`{"usage":{"prompt_tokens":1.0}}`, `{"usage":{"prompt_tokens":1e2}}`, `{"usage":{"prompt_tokens":-3}}`, `{"usage":{"prompt_tokens":"3"}}`,
	`{"usage":{"prompt_tokens":99999999999999999999}}`, `{"usage":{"prompt_tokens":1,"prompt_tokens":2}}`, `{"usage":null}`, `{"usage":[]}`,
	`{"usage":{"prompt_tokens_details":null,"completion_tokens_details":{"reasoning_tokens":null}}}`, `{"usage":{"PROMPT_TOKENS":4}}`,
	`{"usage":{"prompt_tokens_details":{"cached_tokens":1},"prompt_tokens_details":{"cached_tokens":2}}}`, `{"usage":{"prompt_tokens_details":7}}`,
	`{"x":[1,{"a":null}],"choices":[{"finish_reason":"stop"}]} `, `{"ẞ":1}`, `null`, `[]`, `{"a":1`, `{"a":1}x`, ``, ` `, `{}`,
}

func TestScanAnswerMatchesEncodingJSON(t *testing.T) {
	for _, c := range scanCases {
		checkScan(t, []byte(c))
	}
	// The answers an upstream sends are read by the scan, not left to
	// encoding/json.
	for _, c := range scanCases[:4] {
		if _, _, ok := scanAnswer([]byte(c)); !ok {
			t.Errorf("scanAnswer(%s) left it to encoding/json", c)
		}
	}
}

func FuzzScanAnswer(f *testing.F) {
	for _, c := range scanCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkScan(t, b) })
}

func checkScan(t *testing.T, b []byte) {
	t.Helper()
	now := time.Unix(1, 0)
	got, gotStorable, gotErr := NewCheckedEntry(b, nil, "", now)
	want, wantStorable, wantErr := checkedEntryJSON(b, nil, "", now)
	if (gotErr != nil) != (wantErr != nil) || gotStorable != wantStorable {
		t.Errorf("%q: storable %v, error %v; encoding/json: %v, %v", b, gotStorable, gotErr, wantStorable, wantErr)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%q: entry (-encoding/json +scan):\n%s", b, diff)
	}
}

// scanChatChunk reads a chunk as encoding/json does, or says it cannot.
var chunkScanCases = []string{
	`{"id":"c","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"logprobs":null,"finish_reason":null}]}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"reasoning_content":"th\nink"},"finish_reason":null}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}`,
	`{"id":"c","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"caf\u00e9 \"q\""}}]}`, "{\"choices\":[{\"delta\":{\"content\":\"a\xffb\"}}]}",
	`{"choices":[{"index":1,"delta":{"refusal":"no","role":null}}],"service_tier":"default"}`,
	`{"choices":[null,{"index":2}]}`, `{"choices":null}`, `{"choices":{}}`, `{"choices":[1]}`, `{"choices":[{"delta":null}]}`, `{"choices":[{"delta":"x"}]}`,
	`{"choices":[{"index":1.5}]}`, `{"choices":[{"index":-1}]}`, `{"choices":[{"index":null}]}`, `{"choices":[{"index":99999999999999999999}]}`,
	`{"choices":[{"logprobs":{"content":[]}}]}`, `{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}`,
	`{"choices":[{"delta":{"content":5}}]}`, `{"choices":[{"finish_reason":7}]}`, `{"choices":[{"Delta":{"content":"x"}}]}`,
	`{"choices":[{"delta":{"content":"a","content":"b"}}]}`, `{"id":"a","id":"b"}`, `{"created":"5"}`, `{"created":true}`, `{"created":null}`,
	`{"created":1.5e3}`, `{"error":{"message":"x"}}`, `{"error":null}`, `{"usage":null}`, `{"usage":[1, 2]}`, `{"model":null}`, `{"model":1}`,
	`{"system_fingerprint":null}`, `{"ID":"x"}`, `{"x":{"y":[null]}}`, ` {"id":"c"} `, `null`, `[]`, `{`, `{"id":"c"}x`, ``,
}

func TestScanChatChunkMatchesEncodingJSON(t *testing.T) {
	for _, c := range chunkScanCases {
		checkChunkScan(t, []byte(c))
	}
	for _, c := range chunkScanCases[:5] {
		var got chatChunk
		if !scanChatChunk([]byte(c), &got) {
			t.Errorf("scanChatChunk(%s) left it to encoding/json", c)
		}
	}
}

func FuzzScanChatChunk(f *testing.F) {
	for _, c := range chunkScanCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkChunkScan(t, b) })
}

// reusedChunk is decoded into case after case, as a stream's chunks are.
var reusedChunk chatChunk

func checkChunkScan(t *testing.T, b []byte) {
	t.Helper()
	for _, got := range []*chatChunk{{}, &reusedChunk} {
		if !scanChatChunk(b, got) {
			continue
		}
		var want chatChunk
		if err := json.Unmarshal(b, &want); err != nil {
			t.Errorf("%q: scanned, but encoding/json refuses it: %v", b, err)
			return
		}
		if diff := cmp.Diff(want, *got, cmpopts.EquateEmpty(), cmpopts.IgnoreUnexported(chunkDelta{})); diff != "" {
			t.Errorf("%q: chunk (-encoding/json +scan):\n%s", b, diff)
		}
		if (want.Choices == nil) != (got.Choices == nil) {
			t.Errorf("%q: choices nil %v, encoding/json's %v", b, got.Choices == nil, want.Choices == nil)
		}
	}
}

// A stream whose chunks are read from the template of the chunk before
// assembles as encoding/json reads it; a chunk that only looks like the
// template (another kind of value, a second string, a bad escape) is not
// read from it.
func TestTextTemplateMatchesEncodingJSON(t *testing.T) {
	const content = `{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":%s},"logprobs":null,"finish_reason":null}]}`
	texts := []string{`"b"`, `""`, `"caf\u00e9 \"x\"\n"`, `"\ud83d\ude00"`, `"\ud800"`, `null`, `7`, `{}`, `"a","content":"b"`, `"a"},"x":{"y":"z"`,
		`"x\q"`, `"`, `"a" `, ` "a"`, "\"\x01\"", `"a"}]}`, "\"\xff\""}
	formats := []string{
		content,
		strings.Replace(content, `"content"`, `"reasoning_content"`, 1),
		strings.Replace(content, `"content"`, `"refusal"`, 1),
		strings.Replace(content, `"content":%s`, `"content":"first","content":%s`, 1),
		strings.Replace(content, `"delta":{`, `"delta":{"role":"assistant",`, 1),
	}
	hits := 0
	for _, format := range formats {
		for _, text := range texts {
			hits += checkTextTemplate(t, fmt.Sprintf(format, `"a"`), fmt.Sprintf(format, text))
		}
	}
	if hits < len(formats)*4 { // "b", "", and the two escaped texts, at least
		t.Errorf("%d chunks read from a template, want at least %d", hits, len(formats)*4)
	}
	// No template: two texts, usage, no text, a tool call, logprobs.
	for _, body := range []string{
		`{"choices":[{"delta":{"content":"a","reasoning_content":"b"}}]}`,
		`{"choices":[{"delta":{"content":"a"}}],"usage":{"prompt_tokens":1}}`,
		`{"choices":[{"delta":{"role":"assistant"}}]}`,
		`{"choices":[{"delta":{"content":"a"}},{"index":1,"delta":{"content":"b"}}]}`,
	} {
		var c chatChunk
		var tt textTemplate
		if scanChatChunk([]byte(body), &c) {
			tt.remember([]byte(body), &c)
		}
		if tt.field != 0 {
			t.Errorf("%s: a template", body)
		}
	}
}

// checkTextTemplate assembles first, then next (and next again) as a
// stream, and the same stream read by encoding/json alone: the two must
// agree. It reports 1 when next matched first's template.
func checkTextTemplate(t *testing.T, first, next string) int {
	t.Helper()
	chunks := [][]byte{[]byte(first), []byte(next), []byte(next)}
	want, wantErr := assembleChat(chunks, false, nil)
	got, err := assembleChat(chunks, true, nil)
	if (err != nil) != (wantErr != nil) || string(got) != string(want) {
		t.Errorf("%q after %q: assembled %s, %v; by encoding/json %s, %v", next, first, got, err, want, wantErr)
	}
	if !strings.Contains(first, objectText) { // AssembleStream starts from its scan of first
		got, err = AssembleStream(chunks)
		if (err != nil) != (wantErr != nil) || string(got) != string(want) {
			t.Errorf("%q after %q: AssembleStream %s, %v; by encoding/json %s, %v", next, first, got, err, want, wantErr)
		}
	}
	var c chatChunk
	var tt textTemplate
	if !scanChatChunk([]byte(first), &c) {
		return 0
	}
	tt.remember([]byte(first), &c)
	if _, ok := tt.match([]byte(next)); ok {
		return 1
	}
	return 0
}

func FuzzTextTemplate(f *testing.F) {
	f.Add(`{"id":"c1","choices":[{"index":0,"delta":{"content":`, `},"finish_reason":null}]}`, `"b"`)
	f.Add(`{"choices":[{"delta":{"reasoning_content":`, `}}]}`, `"a","content":"b"`)
	f.Fuzz(func(t *testing.T, prefix, suffix, text string) {
		checkTextTemplate(t, prefix+`"a"`+suffix, prefix+text+suffix)
	})
}

// A stream's first chunk carries the role its other chunks lack: the
// template kept from it leaves the role member out, so the chunk after it
// is read from it, and assembles as encoding/json reads it, with any
// spacing around the member; a chunk with the same role again (an engine
// that repeats it) is read from the template with the role. A role after
// the text, or the member last, stays in the template.
func TestTextTemplateWithoutTheRole(t *testing.T) {
	const chunk = `{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{%s},"finish_reason":null}]}`
	for _, tc := range []struct {
		first, next string
		hit         bool
	}{
		{`"role":"assistant","content":""`, `"content":"b"`, true},
		{`"role":"assistant","content":"a"`, `"content":"b"`, true},
		{` "role" : "assistant" , "content":"a"`, ` "content":"b"`, true},
		{"\"role\"\n:\t\"assistant\",\r\n\"reasoning_content\":\"a\"", `"reasoning_content":"b"`, true},
		{`"role":null,"content":"a"`, `"content":"b"`, true},
		{`"role":"assistant","content":"a"`, `"role":"assistant","content":"b"`, true}, // the role in every chunk, as Ollama sends it
		{`"role":"assistant","content":"a"`, `"role":"user","content":"b"`, false},
		{`"content":"a","role":"assistant"`, `"content":"b"`, false},
		{`"content":"a","role":"assistant"`, `"content":"b","role":"assistant"`, true},
		{`"role":"assistant","refusal":null,"content":"a"`, `"refusal":null,"content":"b"`, true},
	} {
		first, next := fmt.Sprintf(chunk, tc.first), fmt.Sprintf(chunk, tc.next)
		if got := checkTextTemplate(t, first, next) == 1; got != tc.hit {
			t.Errorf("%s after %s: read from the template %v, want %v", tc.next, tc.first, got, tc.hit)
		}
	}
}

// FuzzTextTemplateWithoutTheRole is FuzzTextTemplate with a role member
// in the first chunk only, where the fuzzer puts it.
func FuzzTextTemplateWithoutTheRole(f *testing.F) {
	f.Add(`{"id":"c1","choices":[{"index":0,"delta":{`, `"role":"assistant",`, `"content":`, `},"finish_reason":null}]}`, `"b"`)
	f.Add(`{"choices":[{"delta":{`, `"role" : null , `, `"reasoning_content":`, `}}]}`, `"a","content":"b"`)
	f.Fuzz(func(t *testing.T, prefix, role, key, suffix, text string) {
		checkTextTemplate(t, prefix+role+key+`"a"`+suffix, prefix+key+text+suffix)
	})
}

// A chunk with a null usage or error (pydantic writes an unset one so,
// in every chunk) is a template: a null one merges nothing.
func TestTextTemplateWithNullUsage(t *testing.T) {
	for _, tail := range []string{`,"usage":null`, `,"error":null`, `,"usage":null,"error":null`} {
		chunk := `{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":%s},"finish_reason":null}]` + tail + `}`
		if checkTextTemplate(t, fmt.Sprintf(chunk, `"a"`), fmt.Sprintf(chunk, `"b"`)) != 1 {
			t.Errorf("%s: the next chunk not read from the template", tail)
		}
	}
}
