package gateway

import (
	"fmt"
	"testing"

	"github.com/dsgate/dsgate/internal/chatwire"
)

// carriesText is a byte search run on every chunk (openai.StringMemberAt):
// one search per key whatever the spacing (issue 14: the spaced and unspaced
// forms were two searches each, and the per-chunk searches were a tenth
// of a stream's CPU).
func TestCarriesText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		chunk string
		want  bool
	}{
		{`{"choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null}]}`, true},
		{`{"choices":[{"index":0,"delta":{"content" : "tok"}}]}`, true},
		{`{"choices":[{"delta":{"role":"assistant","content":""},"finish_reason":null}]}`, false},
		{`{"choices":[{"delta":{"content":null,"reasoning_content":"think"}}]}`, true},
		{`{"choices":[{"delta":{"content":"","reasoning_content": ""}}]}`, false},
		{`{"choices":[{"text":"x","index":0}]}`, true},
		{`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}`, true},
		{`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":""}}]}}]}`, false},
		{`{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`, false},
		{`{"choices":[],"usage":{"prompt_tokens":1}}`, false},
		// the second choice carries text, the first does not
		{`{"choices":[{"index":0,"delta":{"content":""}},{"index":1,"delta":{"content":"b"}}]}`, true},
		// a quoted key inside a string is escaped: never a member
		{`{"choices":[{"delta":{"role":"assistant","content":""},"x":"say \"content\":\"no\""}]}`, false},
		{`{"content"`, false},
		{`{"content":`, false},
		{`{"content":"`, false},
	} {
		if got := carriesText([]byte(tc.chunk)); got != tc.want {
			t.Errorf("carriesText(%s) = %v, want %v", tc.chunk, got, tc.want)
		}
	}
}

// relayVerdicts is what the relay decides about one chunk by its checks:
// the chunk it sends (nil: none), an error, the usage it found, whether
// it holds the chunk back and whether the chunk carries text.
type relayVerdicts struct {
	out      string
	err      bool
	usage    bool
	held     bool
	text     bool
	outIsRaw bool
}

func checkedVerdicts(p []byte, clientUsage bool, a responseAdapter) relayVerdicts {
	st := streamState{adapter: a, clientUsage: clientUsage}
	res := &Result{}
	out, err := st.adapt("up", p, res)
	v := relayVerdicts{out: string(out), err: err != nil, usage: res.HasUsage, outIsRaw: out != nil && len(out) == len(p) && &out[0] == &p[0]}
	if err == nil && out != nil {
		v.held = st.hold(out)
		v.text = carriesText(out)
	}
	return v
}

// relayAdapters are the relay's rewrites: none, the public model name
// for an upstream's own (DeepSeek's deepseek-v4-flash served as
// deepseek-chat), vLLM's reasoning key, and both.
var relayAdapters = []responseAdapter{
	{}, {model: []byte(`"public"`)}, {renameReasoning: true}, {renameReasoning: true, model: []byte(`"public"`)},
}

// checkRelayTemplate sends first through the relay's checks and, when it
// became the template, next, with each of relayAdapters: a chunk the
// template matches must get the verdicts the checks give it (sent as adapt
// rewrites it, no error, no usage, not held, text when its own text is not
// empty). It reports whether next matched with no rewriting.
func checkRelayTemplate(t *testing.T, first, next []byte) bool {
	t.Helper()
	matched := false
	for i, a := range relayAdapters {
		if m, _ := relayTemplate(t, a, first, next); m && i == 0 {
			matched = true
		}
	}
	return matched
}

// relayTemplate is checkRelayTemplate with one adapter, and reports too
// whether a translator's decoder read next from the relay's word
// (checkTemplateSink).
func relayTemplate(t *testing.T, a responseAdapter, first, next []byte) (matched, read bool) {
	t.Helper()
	for _, clientUsage := range []bool{false, true} {
		st := streamState{adapter: a, clientUsage: clientUsage}
		out, err := st.adapt("up", first, &Result{})
		if err != nil || out == nil || st.hold(out) {
			continue
		}
		at, _ := st.remember(first, out)
		sent, tok, ok := st.match(next)
		if !ok {
			continue
		}
		want := checkedVerdicts(next, clientUsage, a)
		got := relayVerdicts{out: string(sent), text: len(tok) > 2, outIsRaw: len(sent) == len(next) && &sent[0] == &next[0]}
		if got != want {
			t.Fatalf("%s after %s (client usage %v, %+v): template says %+v, the checks %+v", next, first, clientUsage, a, got, want)
		}
		if !within(tok, sent) {
			t.Fatalf("%s: the text %s is not the chunk's own", next, tok)
		}
		return true, checkTemplateSink(t, out, sent, at, tok)
	}
	return false, false
}

// within reports whether sub is a slice of s.
func within(sub, s []byte) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if &s[i] == &sub[0] {
			return true
		}
	}
	return false
}

// checkTemplateSink is a translator's side of a match (TemplateSink): the
// relay's template first, its text at first[at], marked in the chunk
// decoder that read it (chatwire.Chunk.Mark), reads next from its text tok
// as the decoder reads next itself. It reports whether first was marked.
func checkTemplateSink(t *testing.T, first, next []byte, at int, tok []byte) bool {
	t.Helper()
	var marked, read chatwire.Chunk
	if chatwire.DecodeChunk(first, &marked) != nil {
		return false
	}
	// What a translator does to the chunk it read before Templated comes
	// (it names a call that came without an id).
	marked.ID, marked.Model, marked.FinishReason = "changed", "changed", "changed"
	for i := range marked.ToolCalls {
		marked.ToolCalls[i].ID, marked.ToolCalls[i].Name = "call_changed", "changed"
	}
	if !marked.Mark(first, at) {
		return false // not a chunk a translator marks: it reads next itself
	}
	if !marked.FromMark(tok) {
		t.Fatalf("%s: no mark", first)
	}
	if err := chatwire.DecodeChunk(next, &read); err != nil {
		t.Fatalf("%s after %s: read from the mark, refused by the decoder: %v", next, first, err)
	}
	type fields struct {
		ID, Model, Finish, Content, Reasoning, Refusal string
		Created                                        int64
		Calls                                          string
		Usage                                          bool
	}
	of := func(c *chatwire.Chunk) fields {
		return fields{c.ID, c.Model, c.FinishReason, string(c.Content), string(c.ReasoningContent), string(c.Refusal),
			c.Created, fmt.Sprintf("%+v", c.ToolCalls), c.Usage != nil}
	}
	if got, want := of(&marked), of(&read); got != want {
		t.Fatalf("%s after %s: read from the mark %+v, by the decoder %+v", next, first, got, want)
	}
	return true
}

// splice is first with its text member's value (textMembers) replaced by
// tok.
func splice(first []byte, tok string) []byte {
	n, start, end, _ := textMembers(first)
	if n != 1 {
		return nil
	}
	return append(append(append([]byte(nil), first[:start]...), tok...), first[end:]...)
}

var relaySeeds = []string{
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"tok"},"logprobs":null,"finish_reason":null}]}`,
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"think"},"finish_reason":null}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\""}}]}}]}`,
	`{"id":"c","object":"text_completion","choices":[{"text":"x","index":0,"finish_reason":null}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"insufficient_system_resource"}]}`,
	`{"error":{"message":"x"},"choices":[{"delta":{"content":"a"}}]}`,
	`{"choices":[{"delta":{"role":"assistant","content":""}}]}`,
	` { "choices" : [ { "delta" : { "content" : "a" } , "finish_reason" : null } ] } `,
	// usage null at the top, as SGLang's pydantic chunks had it, and in the
	// choice: no usage to read, so a template.
	`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":null,"content":"tok","reasoning_content":null,"tool_calls":null},"logprobs":null,"finish_reason":null,"matched_stop":null}],"usage":null}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null,"usage":null}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"content":"a"}}],"usage":{}}`,
}

// renameSeeds are chunks adapt's rewrites (relayAdapters) touch around
// their text, or take it with them.
var renameSeeds = []string{
	`{"id":"c","model":"m","choices":[{"index":0,"delta":{"role":"assistant","reasoning":"think"},"finish_reason":null}]}`,
	`{"id":"c","choices":[{"index":0,"delta":{"reasoning" : "think"}}],"model":"m","model":"n"}`,
	`{"id":"c","choices":[{"index":0,"delta":{"reasoning":"think","reasoning_content":"x"}}]}`,
	`{"model":{"content":"a"},"choices":[{"index":0,"delta":{"role":"x"}}]}`,
	`{"model":{"reasoning":"a"},"choices":[{"index":0,"delta":{"reasoning":"b"}}]}`,
	`{"a\"reasoning":"x","choices":[{"index":0,"delta":{"role":"assistant","content":"b"}}]}`,
}

var relayTokens = []string{`""`, `"b"`, `"\"usage\""`, `"\"error"`, `"x\"finish_reason"`, `"\"finish_reason\":\"insufficient_system_resource"`,
	`"\"content\":\"y"`, `"\u0000"`, `"\\"`, `"é"`}

// A chunk the relay's template matches gets exactly the verdicts the
// per-chunk checks give it.
func TestRelayTemplate(t *testing.T) {
	t.Parallel()
	matched, reads := 0, 0
	for _, first := range relaySeeds {
		for _, tok := range relayTokens {
			if next := splice([]byte(first), tok); next != nil {
				for _, a := range relayAdapters {
					m, r := relayTemplate(t, a, []byte(first), next)
					if m {
						matched++
					}
					if r {
						reads++
					}
				}
			}
		}
	}
	// The text chunks (the first four seeds, the role chunk, the spaced
	// one and the two with a null usage) become templates; those with
	// usage (an object, even empty), an error or a finish reason do not.
	// The same with every adapter: a renamed model or reasoning key keeps
	// the template.
	if want := 8 * len(relayTokens) * len(relayAdapters); matched != want {
		t.Errorf("%d chunks matched a template, want %d", matched, want)
	}
	// All but the completions chunk, whose text no chat chunk has, are
	// marked and read from the mark by a translator.
	if want := 7 * len(relayTokens) * len(relayAdapters); reads != want {
		t.Errorf("%d chunks read from a mark, want %d", reads, want)
	}
}

func FuzzRelayTemplate(f *testing.F) {
	for _, first := range append(relaySeeds, renameSeeds...) {
		for _, tok := range relayTokens {
			f.Add(first, tok)
		}
	}
	f.Add("", `""`)
	f.Fuzz(func(t *testing.T, first, tok string) {
		if next := splice([]byte(first), tok); next != nil {
			checkRelayTemplate(t, []byte(first), next)
		}
		checkRelayTemplate(t, []byte(first), []byte(tok))
	})
}

// A stream's first chunk carries the role its other chunks lack: the
// template leaves the role member out, so the chunk after it matches (and
// gets the checks' verdicts); an engine that repeats the role in every
// chunk (Ollama) is matched by the template with it. A role after the
// text, or last in its object, stays in the template.
func TestRelayTemplateWithoutTheRole(t *testing.T) {
	t.Parallel()
	const chunk = `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{%s},"logprobs":null,"finish_reason":null}]}`
	for _, tc := range []struct {
		first, next string
		match       bool
	}{
		{`"role":"assistant","content":""`, `"content":"b"`, true},
		{` "role" : "assistant" , "content":"a"`, ` "content":"b"`, true},
		{"\"role\"\n:\t\"assistant\",\r\n\"reasoning_content\":\"a\"", `"reasoning_content":"b"`, true},
		{`"role":"assistant","content":"a"`, `"role":"assistant","content":"b"`, true},
		{`"role":"assistant","content":"a"`, `"role":"user","content":"b"`, false},
		{`"content":"a","role":"assistant"`, `"content":"b"`, false},
		{`"content":"a","role":"assistant"`, `"content":"b","role":"assistant"`, true},
		{`"role":null,"content":"a"`, `"content":"b"`, false}, // no string value: not cut
	} {
		first, next := fmt.Sprintf(chunk, tc.first), fmt.Sprintf(chunk, tc.next)
		if got := checkRelayTemplate(t, []byte(first), []byte(next)); got != tc.match {
			t.Errorf("%s after %s: matched %v, want %v", tc.next, tc.first, got, tc.match)
		}
	}
	// An Ollama stream: every chunk matches (jsonenc.TestCutTemplate: the
	// template with the role becomes the template).
	st := streamState{}
	first := []byte(fmt.Sprintf(chunk, `"role":"assistant","content":"a"`))
	out, err := st.adapt("up", first, &Result{})
	if err != nil {
		t.Fatal(err)
	}
	st.remember(first, out)
	for _, tok := range []string{`"b"`, `"c"`, `"d"`} {
		if _, _, ok := st.match([]byte(fmt.Sprintf(chunk, `"role":"assistant","content":`+tok))); !ok {
			t.Fatalf("%s not matched", tok)
		}
	}
	st.release()
}

// FuzzRelayTemplateWithoutTheRole is FuzzRelayTemplate with a role member
// in the first chunk only, where the fuzzer puts it.
func FuzzRelayTemplateWithoutTheRole(f *testing.F) {
	f.Add(`{"id":"c","choices":[{"index":0,"delta":{`, `"role":"assistant",`, `"content":`, `},"finish_reason":null}]}`, `"b"`)
	f.Add(`{"choices":[{"delta":{`, `"role" : "x" , `, `"reasoning_content":`, `}}]}`, `"a","content":"b"`)
	f.Add(`{"x":{`, `"role":"a",`, `"y":1},"choices":[{"delta":{"content":`, `}}]}`, `"\u0000"`)
	f.Add(`{"usage":{"prompt_tokens":1},"a\"`, `role":"x",`, `"usage":null,"choices":[{"delta":{"content":`, `}}]}`, `"b"`)
	f.Fuzz(func(t *testing.T, prefix, role, key, suffix, text string) {
		checkRelayTemplate(t, []byte(prefix+role+key+`"a"`+suffix), []byte(prefix+key+text+suffix))
		checkRelayTemplate(t, []byte(prefix+role+key+`"a"`+suffix), []byte(prefix+role+key+text+suffix))
	})
}

// An empty data event (after an earlier one the SSE reader hands it on as
// an empty, non-nil payload) is no template and no crash (a review's
// repro: the rewritten template's test indexed it).
func TestRelayTemplateEmptyChunk(t *testing.T) {
	t.Parallel()
	for _, a := range relayAdapters {
		st := streamState{adapter: a}
		if at, text := st.remember([]byte{}, []byte{}); at != -1 || text {
			t.Errorf("%+v: an empty chunk is a template at %d (text %v)", a, at, text)
		}
		checkRelayTemplate(t, []byte{}, []byte(`""`))
	}
}

// Keys the byte searches do not see (escaped, or ending in an escaped
// quote before "role") never make a template that a later chunk's own
// text would expose to the checks' parse (a review's repros).
func TestRelayTemplateEscapedKeys(t *testing.T) {
	t.Parallel()
	for _, c := range [][2]string{
		{`{"usage":{"prompt_tokens":1},"a\"role":"x","usage":null,"choices":[{"delta":{"content":"a"}}]}`,
			`{"usage":{"prompt_tokens":1},"a\"usage":null,"choices":[{"delta":{"content":"b"}}]}`},
		{`{"usage":{"prompt_tokens":1},"a\"role":"x","usage":null,"choices":[],"x":{"content":"a"}}`,
			`{"usage":{"prompt_tokens":1},"a\"usage":null,"choices":[],"x":{"content":"b"}}`},
		{`{"us\u0061ge":{"prompt_tokens":1},"choices":[{"delta":{"content":"a"}}]}`,
			`{"us\u0061ge":{"prompt_tokens":1},"choices":[{"delta":{"content":"usage"}}]}`},
		{`{"err\u006fr":{"message":"x"},"choices":[{"delta":{"content":"a"}}]}`,
			`{"err\u006fr":{"message":"x"},"choices":[{"delta":{"content":"error"}}]}`},
	} {
		checkRelayTemplate(t, []byte(c[0]), []byte(c[1]))
	}
}
