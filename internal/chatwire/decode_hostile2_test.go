package chatwire

import (
	"bytes"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// Hostile trial of decodeChunk's head (the bytes of the last walked chunk
// before its choices, walked past with jsonenc.MoreMembers), of readUsage
// and of the template path interleaved with them. Every chunk of every
// sequence is decoded into one reused Chunk and compared with Decode
// (checkDecodeChunk, which also decodes into a fresh Chunk).
//
// The three divergences this trial found (a head keeping the id, model or
// created read after its choices; a head holding a first choices; a usage
// counter given again as null) are pinned in decode_head_regress_test.go,
// where they were kept when 2436058 fixed them; the sequences and fuzz
// targets here include their shapes.

// decodeSeqHostile2 decodes bodies in order into one Chunk, each checked
// against Decode.
func decodeSeqHostile2(t *testing.T, bodies ...string) *Chunk {
	t.Helper()
	var c Chunk
	for _, b := range bodies {
		checkDecodeChunk(t, []byte(b), &c)
	}
	return &c
}

const (
	h2Head  = `{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m",`
	h2Text  = h2Head + `"choices":[{"index":0,"delta":{"content":%q},"finish_reason":null}]}`
	h2First = h2Head + `"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`
)

// Sequences of chunks into one Chunk: heads that match in part, heads
// that end where a token of the next chunk goes on, spaces, keys given
// twice, nulls, usage before and after choices, escapes, invalid UTF-8,
// and the template path between head walks.
func TestDecodeChunkSequenceHostile2(t *testing.T) {
	seqs := [][]string{
		// A stream as engines write it, then its usage chunk.
		{h2First, h2Head + `"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`,
			h2Head + `"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":null}]}`,
			h2Head + `"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
			h2Head + `"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`},
		// The next chunk's number or string goes on past the head's.
		{`{"created":1,"choices":[]}`, `{"created":12,"choices":[]}`, `{"created":1,"choices":[]}`, `{"created":1,2,"choices":[]}`},
		{`{"created":1,"choices":[]}`, `{"created":1,"choices":[]}`, `{"created":1, "choices":[]}`, `{"created":1,"choices":[],"created":null}`},
		{`{"id":"a","choices":[]}`, `{"id":"ab","choices":[]}`, `{"id":"a","choices":[]}`, `{"id":"a","x":"choices","choices":[]}`},
		{`{"id":"a\"","choices":[]}`, `{"id":"a\"","choices":[]}`, `{"id":"a\",","choices":[]}`, `{"id":"a\"","choices":[{"delta":{"content":"x"}}]}`},
		// A head with spaces, and chunks with the head and other spaces.
		{" \t\n{ \"id\" : \"a\" ,\n \"choices\":[]}", `{ "id" : "a" ,` + "\n" + ` "choices":[{"delta":{"content":"x"}}]} `, "\r\n{ \"id\" : \"a\" ,\n \"choices\":[]}\n",
			`{ "id" : "a" ,` + "\n" + ` "choices":[]`, `{ "id" : "a" ,` + "\n" + `}`, `{ "id" : "a" ,` + "\n" + ` ,"choices":[]}`},
		// Heads that are a prefix of the next chunk's head, and the reverse.
		{`{"id":"a","choices":[]}`, `{"id":"a","model":"m","choices":[]}`, `{"id":"a","model":"m","choices":[]}`, `{"id":"a","choices":[]}`, `{"id":"a","model":"m","choices":[]}`},
		// Keys given twice in the head, and null in it.
		{`{"id":"a","id":"b","model":null,"model":"m","created":null,"choices":[]}`, `{"id":"a","id":"b","model":null,"model":"m","created":null,"choices":[{"delta":{"content":"y"}}]}`,
			`{"id":"a","id":"b","model":null,"model":"m","created":null,"usage":{"total_tokens":1},"choices":[]}`},
		{`{"id":"a","usage":null,"choices":null,"choices":[{"delta":{"content":"x"}}]}`, `{"id":"a","usage":null,"choices":null,"choices":[{"delta":{"content":"y"}}]}`,
			`{"id":"a","usage":null,"choices":null,"choices":[],"usage":{"prompt_tokens":9}}`, `{"id":"a","usage":null,"choices":null,"choices":[],"usage":null}`},
		{`{"id":null,"choices":[]}`, `{"id":null,"choices":[]}`, `{"model":"m","id":null,"choices":[]}`, `{"model":"m","id":null,"choices":[]}`},
		// Usage before choices: no head; after: a head, and the tail reads it.
		{`{"id":"a","usage":{"prompt_tokens":1},"choices":[]}`, `{"id":"a","usage":{"prompt_tokens":1},"choices":[]}`, `{"id":"a","usage":{"prompt_tokens":2},"choices":[]}`},
		{`{"id":"a","choices":[],"usage":{"prompt_tokens":1}}`, `{"id":"a","usage":{"prompt_tokens":2},"choices":[]}`, `{"id":"a","choices":[],"usage":{"prompt_tokens":3},"usage":{"completion_tokens":4}}`},
		// choices written with an escape is no choices key, for either.
		{`{"id":"a","ch\u006fices":[{"delta":{"content":"x"}}],"choices":[]}`, `{"id":"a","ch\u006fices":[{"delta":{"content":"x"}}],"choices":[{"delta":{"content":"y"}}]}`,
			`{"id":"a","ch\u006fices":[],"model":"m"}`, `{"id":"a","choices":[]}`, `{"id":"a","ch\u006fices":[{"delta":{"content":"z"}}]}`},
		// Invalid UTF-8 and control characters after the head.
		{h2First, h2Head + "\"choices\":[{\"delta\":{\"content\":\"\xff\xfe\"}}]}", h2Head + "\"choices\":[{\"delta\":{\"content\":\"a\x01\"}}]}",
			h2Head + "\"choices\":[{\"delta\":{\"content\":\"\xed\xa0\x80\"}}]}", "{\"id\":\"c1\xff\",\"choices\":[]}", "{\"id\":\"c1\xff\",\"choices\":[]}"},
		// Template path and head path interleaved: text chunks (template),
		// then a tool call, a usage chunk, a text chunk again.
		{h2First, h2Head + `"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":null}]}`, h2Head + `"choices":[{"index":0,"delta":{"content":"b"},"finish_reason":null}]}`,
			h2Head + `"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":""}}]},"finish_reason":null}]}`,
			h2Head + `"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a"}}]},"finish_reason":null}]}`,
			h2Head + `"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\":1}"}}]},"finish_reason":null}]}`,
			h2Head + `"choices":[{"index":0,"delta":{"content":"c"},"finish_reason":null}]}`,
			`{"id":"c2","object":"chat.completion.chunk","created":8,"model":"m",` + `"choices":[{"index":0,"delta":{"content":"c"},"finish_reason":null}]}`,
			h2Head + `"choices":[{"index":0,"delta":{"content":"d"},"finish_reason":null}]}`,
			h2Head + `"choices":[],"usage":{"prompt_tokens":3}}`},
		// The template's text ending where the head path goes on.
		{h2Head + `"choices":[{"delta":{"content":"a"}}]}`, h2Head + `"choices":[{"delta":{"content":"a","content":"b"}}]}`, h2Head + `"choices":[{"delta":{"content":"a"}},{"delta":{"content":"q"}}]}`},
		// The shapes of the three divergences found (fixed in 2436058), and
		// around them: fields after choices, a choices before the head's,
		// a null choices before it, a counter given again as null.
		{`{"object":"x","choices":[],"id":"a"}`, `{"object":"x","choices":[{"delta":{"content":"hi"}}]}`, `{"object":"x","choices":[],"id":null}`, `{"object":"x","choices":[],"id":"b"}`},
		{`{"id":"a","created":1,"choices":[],"created":2,"model":"m"}`, `{"id":"a","created":1,"choices":[]}`, `{"id":"a","created":1,"choices":[],"created":null}`, `{"id":"a","created":1,"choices":[],"created":3}`},
		{`{"choices":[{"delta":{"content":"x"}}],"id":"a","choices":[]}`, `{"choices":[{"delta":{"content":"x"}}],"id":"a","model":"m"}`, `{"choices":[{"delta":{"content":"x"}}],"id":"a","choices":[{"delta":{"refusal":"r"}}]}`},
		{`{"choices":null,"id":"a","choices":[{"delta":{"content":"x"}}]}`, `{"choices":null,"id":"a","choices":[]}`, `{"choices":null,"id":"a","model":"m"}`},
		{`{"id":"a","choices":[],"choices":[{"delta":{"content":"x"}}]}`, `{"id":"a","choices":[{"delta":{"content":"y"}}]}`, `{"id":"a","choices":[],"choices":[]}`},
		{`{"id":"a","usage":null,"choices":[],"usage":{"prompt_tokens":5,"prompt_tokens":null,"total_tokens":null,"total_tokens":7}}`,
			`{"id":"a","usage":null,"choices":[],"usage":{"prompt_tokens_details":{"cached_tokens":1},"prompt_tokens_details":null,"completion_tokens_details":null}}`,
			`{"id":"a","usage":null,"choices":[],"usage":{"prompt_tokens":null}}`},
		// Faults after a matched head, and after them a good chunk.
		{h2First, h2Head + `"choices":[{]}`, h2Head + `"choices":[]`, h2Head, h2Head + `"choices":[]}}`, h2Head + `"choices":{}}`, h2Head + `"choices":[{"delta":[]}]}`,
			h2Head + `"usage":[]}`, h2Head + `"usage":{"prompt_tokens":01}}`, h2Head + `"choices":[]} {}`, h2Head + `"choices":[{"delta":{"content":"ok"}}]}`},
	}
	for _, seq := range seqs {
		decodeSeqHostile2(t, seq...)
	}
}

// Heads that end with other bytes than a ',' and spaces: none can, since
// choices is never the first key of a kept head; a head is kept only when
// a member came before choices and no usage did.
func TestDecodeChunkHeadEndsPastCommaHostile2(t *testing.T) {
	for _, body := range []string{
		h2First, `{"id":"a","choices":[]}`, " {\"id\":\"a\" \t,\n\r \"choices\":[]}", `{"x":{"choices":[]},"choices":[]}`,
		`{"x":["choices"],"choices":[]}`, `{"x":"\"choices\":","choices":[]}`, `{"id":"a","usage":null,"choices":[]}`,
		`{"choices":[]}`, `{"usage":{},"id":"a","choices":[]}`, `{"id":null,"choices":[]}`, `{"choices":null,"choices":[]}`,
		`{"id":"a","choices":[]} trailing`, `{"id":"a","choices":[{"delta":{"content":"\ud800"}}]}`,
	} {
		var c Chunk
		_ = DecodeChunk([]byte(body), &c)
		h := c.head.bytes
		if len(h) == 0 {
			continue
		}
		tb := Trim([]byte(body))
		if !bytes.HasPrefix(tb, h) || !bytes.HasPrefix(tb[len(h):], []byte(`"choices"`)) {
			t.Errorf("%s: head %q is not the bytes before the choices key", body, h)
		}
		r := bytes.TrimRight(h, " \t\r\n")
		if len(r) == 0 || r[len(r)-1] != ',' {
			t.Errorf("%s: head %q does not end past a ','", body, h)
		}
		if !jsonenc.Valid(append(append([]byte(nil), h...), `"z":0}`...)) {
			t.Errorf("%s: head %q does not end between two members", body, h)
		}
	}
}

// Usage numbers at the edges read as Decode reads them (strconv.Atoi).
func TestDecodeChunkUsageNumbersHostile2(t *testing.T) {
	nums := []string{`0`, `-0`, `-1`, `1`, `7`, `-9`, `1.5`, `1.0`, `0.0`, `1e2`, `1E2`, `1e+2`, `-1e-2`, `123456789012345678`, `999999999999999999`,
		`1234567890123456789`, `9223372036854775807`, `9223372036854775808`, `-9223372036854775808`, `-9223372036854775809`,
		`99999999999999999999999999999`, `-99999999999999999999999999999`, `12345678901234567890.5`, `true`, `false`, `""`, `"5"`, `[]`, `{}`, `[1]`, `{"cached_tokens":5}`,
		`01`, `-`, `+1`, `.5`, `1.`, `1e`, `0x10`, `- 1`, `NaN`, `Infinity`}
	keys := []string{"prompt_tokens", "completion_tokens", "total_tokens", "prompt_cache_hit_tokens", "prompt_cache_miss_tokens"}
	var reused Chunk
	for _, n := range nums {
		for _, k := range keys {
			for _, body := range []string{
				`{"usage":{"` + k + `":` + n + `}}`,
				`{"id":"a","choices":[],"usage":{"` + k + `":` + n + `,"` + k + `":` + n + `}}`,
				`{"id":"a","choices":[],"usage":{"` + k + `":1,"` + k + `":` + n + `}}`,
			} {
				checkDecodeChunk(t, []byte(body), &reused)
			}
		}
		for _, body := range []string{
			`{"usage":{"prompt_tokens_details":{"cached_tokens":` + n + `}}}`,
			`{"usage":{"completion_tokens_details":{"reasoning_tokens":` + n + `}}}`,
			`{"usage":{"prompt_tokens_details":` + n + `}}`,
			`{"usage":{"completion_tokens_details":` + n + `,"completion_tokens_details":{"reasoning_tokens":2}}}`,
			`{"usage":{"prompt_tokens_details":{"cached_tokens":1,"cached_tokens":` + n + `}}}`,
			`{"usage":{"prompt_tokens_details":{"cached_tokens":1},"prompt_tokens_details":` + n + `}}`,
			`{"usage":{"completion_tokens_details":{"reasoning_tokens":null,"reasoning_tokens":` + n + `}}}`,
			`{"created":` + n + `,"choices":[]}`,
			`{"id":"a","choices":[],"usage":` + n + `}`,
			`{"id":"a","choices":[{"index":` + n + `,"delta":{"tool_calls":[{"index":` + n + `}]}}]}`,
		} {
			checkDecodeChunk(t, []byte(body), &reused)
		}
	}
}

// nestHostile2 is n arrays, one in the other.
func nestHostile2(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// Nesting at encoding/json's limit (10000) and one past it, in the head,
// in usage, in what follows a matched head and in the choice.
func TestDecodeChunkDepthHostile2(t *testing.T) {
	for _, d := range []int{9997, 9998, 9999, 10000, 10001} {
		// Depth is the document's object plus what nests in it.
		inHead := `{"x":` + nestHostile2(d-1) + `,"choices":[]}`
		seqs := [][]string{
			{inHead, inHead, `{"x":` + nestHostile2(d-1) + `,"choices":[{"delta":{"content":"x"}}]}`},
			{`{"id":"a","choices":[]}`, `{"id":"a","choices":[],"x":` + nestHostile2(d-1) + `}`},
			{`{"id":"a","choices":[]}`, `{"id":"a","choices":[],"usage":{"x":` + nestHostile2(d-2) + `}}`},
			{`{"id":"a","choices":[]}`, `{"id":"a","choices":[],"usage":{"prompt_tokens_details":{"x":` + nestHostile2(d-3) + `}}}`},
			{`{"id":"a","choices":[]}`, `{"id":"a","choices":[{"x":` + nestHostile2(d-3) + `}]}`},
			{`{"id":"a","choices":[]}`, `{"id":"a","choices":[{"delta":{"x":` + nestHostile2(d-4) + `}}]}`},
			{`{"id":"a","choices":[]}`, `{"id":"a","choices":[{"delta":{"tool_calls":[{"function":{"arguments":` + nestHostile2(d-6) + `}}]}}]}`},
			{`{"id":"a","choices":[]}`, `{"id":"a","choices":[{}, ` + nestHostile2(d-2) + `]}`},
			{`{"usage":{"x":` + nestHostile2(d-2) + `}}`},
		}
		for _, seq := range seqs {
			var c Chunk
			for _, b := range seq {
				checkDecodeChunk(t, []byte(b), &c)
				c2 := c // DecodeCompletion keeps no head: c's stays as it is
				c2.ToolCalls = nil
				sameAsDecode(t, "DecodeCompletion", []byte(b), &c2, DecodeCompletion([]byte(b), &c2))
			}
		}
	}
}

// Reset between two streams: the second stream reads as it would in a
// new Chunk, even when it starts with the first stream's head or
// template bytes.
func TestDecodeChunkResetHostile2(t *testing.T) {
	var c Chunk
	for _, b := range []string{h2First, h2Head + `"choices":[{"delta":{"content":"a"}}]}`} {
		checkDecodeChunk(t, []byte(b), &c)
	}
	if len(c.head.bytes) == 0 || c.tmpl.slot == noTemplate {
		t.Fatalf("no head (%q) or no template (%d) before Reset", c.head.bytes, c.tmpl.slot)
	}
	c.Reset()
	if len(c.head.bytes) != 0 || c.tmpl.slot != noTemplate || c.ID != "" || c.Usage != nil || c.Content != nil {
		t.Fatalf("Reset left head %q, template %d, id %q", c.head.bytes, c.tmpl.slot, c.ID)
	}
	for _, b := range []string{
		h2Head + `"choices":[{"delta":{"content":"b"}}]}`,
		`{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[]}`,
		`{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"delta":{"content":"b"}}]}`,
	} {
		checkDecodeChunk(t, []byte(b), &c)
		c.Reset()
	}
	// A head above 4 KiB is dropped by Reset, and a new one kept after.
	big := `{"id":"` + strings.Repeat("x", 5000) + `","choices":[]}`
	checkDecodeChunk(t, []byte(big), &c)
	c.Reset()
	if c.head.bytes != nil {
		t.Errorf("Reset kept a %d-byte head's storage", cap(c.head.bytes))
	}
	decodeSeqHostile2(t, big, big, `{"id":"y","choices":[]}`, big)
}

// DecodeCompletion between chunks walks past a kept head too (it keeps
// none itself) and reads as Decode.
func TestDecodeCompletionWithHeadHostile2(t *testing.T) {
	var c Chunk
	checkDecodeChunk(t, []byte(h2First), &c)
	for _, b := range []string{
		h2Head + `"choices":[{"index":0,"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"total_tokens":2}}`,
		`{"id":"other","choices":[{"message":{"content":"x"}}]}`,
		h2Head + `"choices":[{"message":{"content":"again"}}]}`,
		h2Head + `"choices":[`,
	} {
		sameAsDecode(t, "DecodeCompletion", []byte(b), &c, DecodeCompletion([]byte(b), &c))
	}
	if string(c.head.bytes) != h2Head {
		t.Errorf("DecodeCompletion changed the head: %q", c.head.bytes)
	}
	checkDecodeChunk(t, []byte(h2Head+`"choices":[{"delta":{"content":"z"}}]}`), &c)
}

var seqSeedsHostile2 = [][3]string{
	{h2First, h2Head + `"choices":[{"delta":{"content":"a"}}]}`, h2Head + `"choices":[],"usage":{"prompt_tokens":1}}`},
	{`{"created":1,"choices":[]}`, `{"created":12,"choices":[]}`, `{"created":1,"choices":[]}`},
	{` { "id" : "a" , "choices":[]}`, `{ "id" : "a" , "choices":[{"delta":{"content":"x"}}]}`, `{ "id" : "a" , "usage":{"total_tokens":1},"choices":[]}`},
	{`{"id":"a","id":"b","choices":[]}`, `{"id":"a","id":"b","choices":null}`, `{"id":"a","id":"b","model":"m","choices":[]}`},
	{`{"id":"a","ch\u006fices":[],"choices":[]}`, `{"id":"a","ch\u006fices":[],"choices":[{"delta":{"refusal":"r"}}]}`, `{"id":"a","choices":[]}`},
	{`{"id":"a","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"x"}}]}}]}`, `{"id":"a","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"y"}}]}}]}`, `{"id":"a","choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"y"}},{"index":1}]}}]}`},
	{`{"object":"x","choices":[],"id":"a"}`, `{"object":"x","choices":[{"delta":{"content":"hi"}}]}`, `{"object":"x","choices":[],"created":5}`},
	{`{"choices":[{"delta":{"content":"x"}}],"id":"a","choices":[]}`, `{"choices":[{"delta":{"content":"x"}}],"id":"a","model":"m"}`, `{"usage":{"prompt_tokens":5,"prompt_tokens":null}}`},
	{"{\"id\":\"\xff\",\"choices\":[]}", "{\"id\":\"\xff\",\"choices\":[{\"delta\":{\"content\":\"\xc0\"}}]}", `{"id":"a",`},
}

// FuzzDecodeChunkSequenceHostile2 decodes three bodies in order into one
// Chunk; each must read as Decode reads it.
func FuzzDecodeChunkSequenceHostile2(f *testing.F) {
	for _, s := range seqSeedsHostile2 {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var reused Chunk
		for _, body := range []string{a, b, c} {
			checkDecodeChunk(t, []byte(body), &reused)
		}
	})
}

// FuzzDecodeChunkHeadTailsHostile2 makes the chunks share a head, so that
// the head path is taken far more often than with three free bodies:
// head+tail0, head+tail1, head2+tail2, head+tail1 into one Chunk, with a
// DecodeCompletion in between.
func FuzzDecodeChunkHeadTailsHostile2(f *testing.F) {
	f.Add(h2Head, `"choices":[{"delta":{"content":"a"}}]}`, `"choices":[],"usage":{"prompt_tokens":1}}`, `{"id":"c1",`, `"choices":[]}`)
	f.Add(`{"created":1,`, `"choices":[]}`, `"choices":[{"delta":{"content":"x"}}]}`, `{"created":12,`, `"choices":[]}`)
	f.Add(` { "id" : "a" , `, `"choices":[]}`, ` "choices":[]} `, `{ "id" : "a" ,`, ` "choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}`)
	f.Add(`{"object":"x",`, `"choices":[],"id":"a","created":2}`, `"choices":[]}`, `{"choices":[],`, `"choices":[],"usage":{"prompt_tokens":1,"prompt_tokens":null}}`)
	f.Add(`{"choices":[{"delta":{"content":"x"}}],"id":"a",`, `"choices":[]}`, `"model":"m"}`, `{"choices":null,"id":"a",`, `"choices":[]}`)
	f.Add(`{"id":"a","usage":null,`, `"choices":[]}`, `"usage":{"total_tokens":3},"choices":[]}`, `{"id":"a","usage":null,`, `"choices":null}`)
	f.Fuzz(func(t *testing.T, head, tail0, tail1, head2, tail2 string) {
		seq := []string{head + tail0, head + tail1, head2 + tail2, head + tail1}
		var reused Chunk
		for i, body := range seq {
			checkDecodeChunk(t, []byte(body), &reused)
			if i == 1 {
				sameAsDecode(t, "DecodeCompletion", []byte(head+tail2), &reused, DecodeCompletion([]byte(head+tail2), &reused))
			}
		}
	})
}

// membersHostile2 are the top-level members FuzzDecodeChunkMembersHostile2
// builds chunks of: few, so that chunks often share their head.
var membersHostile2 = []string{
	`"id":"a"`, `"id":"b"`, `"id":null`, `"object":"chat.completion.chunk"`, `"created":1`, `"created":12`, `"created":null`,
	`"model":"m"`, `"model":"n"`, `"model":null`, `"choices":[]`, `"choices":null`, `"choices":[{"delta":{"content":"x"}}]`,
	`"choices":[{"delta":{"content":"y"},"finish_reason":"stop"}]`, `"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]`,
	`"usage":{"prompt_tokens":5}`, `"usage":{"prompt_tokens":5,"prompt_tokens":null}`, `"usage":null`,
	`"usage":{"prompt_tokens_details":{"cached_tokens":1},"prompt_tokens_details":null}`, `"x":{"choices":[]}`, `"ch\u006fices":[{"delta":{"content":"z"}}]`,
	` "id" : "a" `, `"system_fingerprint":"fp"`,
}

// FuzzDecodeChunkMembersHostile2 decodes into one Chunk up to four chunks
// made of membersHostile2, chosen and ordered by spec (a byte a member,
// 0xff ends a chunk): the structure the head and usage code tells apart,
// which free-form fuzzing reaches seldom.
func FuzzDecodeChunkMembersHostile2(f *testing.F) {
	f.Add([]byte{3, 10, 0, 0xff, 3, 12, 0xff, 3, 10, 15})
	f.Add([]byte{0, 4, 7, 12, 0xff, 0, 4, 7, 10, 0xff, 0, 4, 7, 13, 15})
	f.Fuzz(func(t *testing.T, spec []byte) {
		var chunks []string
		var cur []string
		for _, c := range spec {
			if c == 0xff || len(cur) == 8 {
				chunks = append(chunks, "{"+strings.Join(cur, ",")+"}")
				cur = cur[:0]
				if len(chunks) == 4 {
					break
				}
				continue
			}
			cur = append(cur, membersHostile2[int(c)%len(membersHostile2)])
		}
		if len(chunks) < 4 && len(cur) > 0 {
			chunks = append(chunks, "{"+strings.Join(cur, ",")+"}")
		}
		var reused Chunk
		for _, body := range chunks {
			checkDecodeChunk(t, []byte(body), &reused)
		}
	})
}
