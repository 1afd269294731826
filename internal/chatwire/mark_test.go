package chatwire

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// A chunk the relay's template matched (the marked chunk's bytes around
// another string, less its role member or not) reads by FromMark as
// Decode reads it.
func TestMark(t *testing.T) {
	const content = `{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{%s"content":%s},"finish_reason":null}]}`
	texts := []string{`"b"`, `""`, `"caf\u00e9 \"x\"\n"`, `"\ud83d\ude00"`, `"a\",\"content\":\"b"`, `"usage"`}
	for _, format := range []string{
		content,
		strings.Replace(content, `"content"`, `"reasoning_content"`, 1),
		strings.Replace(content, `"content"`, `"refusal"`, 1),
		strings.Replace(content, `"finish_reason":null`, `"finish_reason":"stop"`, 1),
		strings.Replace(content, `"content":%s`, `"content":"first","content":%s`, 1),
		`{"id":"c1","choices":[{"index":0,"delta":{%s"tool_calls":[{"index":2,"id":"call_1","function":{"name":"f","arguments":%s}}]}}]}`,
	} {
		for _, role := range []string{"", `"role":"assistant",`} {
			doc := fmt.Appendf(nil, format, role, `"a"`)
			at := strings.LastIndex(string(doc), `"a"`)
			var c Chunk
			if err := DecodeChunk(doc, &c); err != nil {
				t.Fatal(err)
			}
			if !c.Mark(doc, at) {
				t.Fatalf("Mark(%s, %d) failed", doc, at)
			}
			for _, text := range texts {
				// What a translator does to the chunk it read.
				c.ID, c.Model, c.FinishReason, c.Content = "changed", "changed", "changed", Token(`"changed"`)
				for i := range c.ToolCalls {
					c.ToolCalls[i].ID, c.ToolCalls[i].Name = "changed", "changed"
				}
				for _, r := range []string{role, ""} { // the role cut or kept
					ok := c.FromMark(Token(text))
					sameAsDecode(t, "FromMark", fmt.Appendf(nil, format, r, text), &c, nil)
					if !ok {
						t.Errorf("FromMark(%s) after Mark(%s): no mark", text, doc)
					}
				}
			}
		}
	}
}

// Mark refuses what is not the chunk just read, with one text at the
// place given, and a refused Mark leaves none.
func TestMarkRefused(t *testing.T) {
	const one = `{"id":"c1","choices":[{"index":0,"delta":{"content":"a"}}]}`
	at := strings.Index(one, `"a"`)
	for _, tt := range []struct {
		name string
		read string // the chunk DecodeChunk read last
		doc  func(read []byte) []byte
		at   int
	}{
		{"a copy", one, func(b []byte) []byte { return []byte(string(b)) }, at},
		{"another place", one, func(b []byte) []byte { return b }, at + 1},
		{"the key", one, func(b []byte) []byte { return b }, strings.Index(one, `"content"`)},
		{"past the end", one, func(b []byte) []byte { return b }, len(one)},
		{"two texts", `{"id":"c1","choices":[{"index":0,"delta":{"content":"a","reasoning_content":"b"}}]}`, func(b []byte) []byte { return b }, at},
		{"usage", `{"id":"c1","choices":[{"index":0,"delta":{"content":"a"}}],"usage":{"prompt_tokens":1}}`, func(b []byte) []byte { return b }, at},
		{"no text", `{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant"}}]}`, func(b []byte) []byte { return b }, at},
		{"a shorter slice", one, func(b []byte) []byte { return b[:len(b)-1] }, at},
	} {
		var c Chunk
		// A good mark first: a refused one must not leave it.
		good := []byte(one)
		if DecodeChunk(good, &c) != nil || !c.Mark(good, at) {
			t.Fatal("the good mark failed")
		}
		read := []byte(tt.read)
		if err := DecodeChunk(read, &c); err != nil {
			t.Fatal(err)
		}
		if c.Mark(tt.doc(read), tt.at) {
			t.Errorf("%s: Mark succeeded", tt.name)
		}
		if c.FromMark(Token(`"x"`)) {
			t.Errorf("%s: FromMark read from a refused mark", tt.name)
		}
	}
	// Mark after FromMark, or a second Mark: no chunk was just read.
	var c Chunk
	doc := []byte(one)
	if DecodeChunk(doc, &c) != nil || !c.Mark(doc, at) {
		t.Fatal("Mark failed")
	}
	if c.Mark(doc, at) {
		t.Error("a second Mark of the same read succeeded")
	}
	if DecodeChunk(doc, &c) != nil || !c.Mark(doc, at) || !c.FromMark(Token(`"b"`)) || c.Mark(doc, at) {
		t.Error("Mark after FromMark succeeded")
	}
	c.Reset()
	if c.FromMark(Token(`"b"`)) {
		t.Error("FromMark read from a mark Reset dropped")
	}
	// A chunk that fails to decode, in the buffer of the one before and
	// as long (a review's note): no chunk to mark.
	buf := []byte(one)
	if DecodeChunk(buf, &c) != nil {
		t.Fatal("the good chunk failed")
	}
	copy(buf[len(buf)-3:], "]]]")
	if DecodeChunk(buf, &c) == nil || c.Mark(buf, at) {
		t.Error("Mark after a chunk that failed to decode succeeded")
	}
}

// FuzzMark marks prefix "a" suffix, then reads prefix text suffix, text
// a string, by FromMark: it must read as Decode reads it.
func FuzzMark(f *testing.F) {
	f.Add(`{"id":"c1","choices":[{"index":0,"delta":{"content":`, `},"finish_reason":null}]}`, `"b"`)
	f.Add(`{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":`, `}}]}}]}`, `"{\"a\":1}"`)
	f.Add(`{"choices":[{"delta":{"reasoning_content":`, `}}]}`, `"\u00e9"`)
	f.Add(`{"choices":[{"delta":{"content":"x","content":`, `}}]}`, `"b"`)
	f.Fuzz(func(t *testing.T, prefix, suffix, text string) {
		var c Chunk
		doc := []byte(prefix + `"a"` + suffix)
		if DecodeChunk(doc, &c) != nil || !c.Mark(doc, len(prefix)) {
			return
		}
		if end, ok := jsonenc.String([]byte(text), 0); !ok || end != len(text) {
			return // the relay's match gives a string
		}
		if !c.FromMark(Token(text)) {
			t.Fatal("no mark")
		}
		sameAsDecode(t, "FromMark", []byte(prefix+text+suffix), &c, nil)
	})
}

// A chunk's head written the usual way is read without a walk
// (readHead); one written otherwise is walked. Either way the chunk reads
// as Decode reads it.
func TestReadHead(t *testing.T) {
	const tail = `"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`
	for _, tc := range []struct {
		head string
		fast bool
	}{
		{`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat",`, true},
		{`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":"fp_1",`, true},
		{`{"id":"c","object":"chat.completion.chunk","created":0,"model":"m","system_fingerprint":null,`, true},
		{`{"id":null,"model":null,"created":null,`, true},
		{`{"id":"a","id":"b","model":"m","model":"n","created":1,"created":2,`, true},
		{`{"x":123456789012345678,`, true},
		{`{"id":"c", "model":"m",`, false},
		{`{ "id":"c",`, false},
		{`{"id":"c\u0041",`, false},
		{`{"\u0069d":"c",`, false},
		{`{"id":"café",`, false},
		{`{"id":5,`, false},
		{`{"created":"5",`, false},
		{`{"created":012,`, false},
		{`{"created":-1,`, false},
		{`{"created":1.5,`, false},
		{`{"created":1e3,`, false},
		{`{"x":1234567890123456789,`, false},
		{`{"x":true,`, false},
		{`{"x":{},`, false},
		{`{"x":nul,`, false},
		{`{"usage":null,`, false},
		{`{"usage":{"prompt_tokens":1},`, false},
		{`{`, false},
		{`{"id":"c"`, false},
		{`{"id":"c",` + "\n", false},
	} {
		for _, body := range []string{tc.head + tail, tc.head} {
			var c Chunk
			_, fast := c.readHead([]byte(body), "", "")
			if fast != (tc.fast && body != tc.head) {
				t.Errorf("readHead(%s) = %v, want %v", body, fast, tc.fast && body != tc.head)
			}
			checkDecodeChunk(t, []byte(body), &c)
		}
	}
}

// FuzzReadHead decodes head + a usual rest: it must read as Decode reads
// it, whether readHead reads the head or the walk does.
func FuzzReadHead(f *testing.F) {
	f.Add(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1764000000,"model":"deepseek-chat",`)
	f.Add(`{"id":"c","created":0,"model":null,"system_fingerprint":"fp",`)
	f.Add(`{"created":012,`)
	f.Fuzz(func(t *testing.T, head string) {
		for _, rest := range []string{
			`"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`,
			`"choices":[],"usage":{"prompt_tokens":1},"id":"z"}`,
		} {
			var c Chunk
			checkDecodeChunk(t, []byte(head+rest), &c)
			checkDecodeChunk(t, []byte(head+rest), &c) // with the head kept
		}
	})
}

// Mark keeps what the chunk decoded to, not what its reader made of it
// after: a translator names a call that came without an id (a review's
// repro: every later chunk of the call read from the mark had that name,
// and the Anthropic stream opened a second tool_use block).
func TestMarkKeepsWhatWasDecoded(t *testing.T) {
	for _, format := range []string{
		`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":%s}}]}}]}`,
		`{"id":"c","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"","function":{"name":"f","arguments":%s}}]}}]}`,
		`{"id":"c","model":"m","choices":[{"index":0,"delta":{"content":%s},"finish_reason":null}]}`,
	} {
		doc := fmt.Appendf(nil, format, `"{"`)
		var c Chunk
		if err := DecodeChunk(doc, &c); err != nil {
			t.Fatal(err)
		}
		// What a translator does to the chunk it read, before the relay's
		// Templated comes.
		c.ID, c.Model, c.FinishReason = "changed", "changed", "changed"
		for i := range c.ToolCalls {
			c.ToolCalls[i].ID, c.ToolCalls[i].Name, c.ToolCalls[i].Index = "call_c_0", "changed", 9
		}
		if !c.Mark(doc, strings.Index(string(doc), `"{"`)) {
			t.Fatalf("Mark(%s) failed", doc)
		}
		c.FromMark(Token(`"}"`))
		sameAsDecode(t, "FromMark", fmt.Appendf(nil, format, `"}"`), &c, nil)
	}
}
