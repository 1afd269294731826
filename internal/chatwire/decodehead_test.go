package chatwire

import (
	"strings"
	"testing"
)

// The heads a stream's chunks repeat before their choices, as engines
// write them, with spaces, with keys given twice, and with one member.
var chunkHeads = []string{
	`{"id":"c1","object":"chat.completion.chunk","created":7,"model":"m",`,
	` { "id" : "c1" ,  "created" : 7 , `,
	`{"id":"c1","id":"c2","model":"m","model":null,`,
	`{"object":"x",`,
}

// What follows a head: choices as chunks carry them, keys the head had
// given again, no choices, and faults in and after the rest.
var chunkTails = []string{
	`"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}`,
	`"choices":[{"delta":{"role":"assistant"}}],"id":"c9","created":9,"model":"m2"}`,
	`   "choices":[]}`,
	`"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
	`"choices":[{"delta":{"tool_calls":[{"index":0,"id":"t","function":{"name":"f","arguments":"{}"}}]}}]}`,
	`"usage":{"prompt_tokens":2}}`,
	`"id":null,"choices":[]}`,
	`}`, `,"choices":[]}`, `"choices":[]} x`, `"choices":[]`, `"a":tru}`, `"choices":[{"delta":{"content":"x\q"}}]}`,
	`"choices":[{"delta":{"content":"x"}}],}`, ``, `"choices"`, "\"choices\":[],\"model\":\"m\x01\"}",
}

// A chunk that starts with the head of the chunk walked before it (its
// bytes up to its choices) is walked from there only, and reads exactly as
// Decode reads it, faults included.
func TestDecodeChunkHead(t *testing.T) {
	for _, head := range chunkHeads {
		var reused Chunk
		if err := DecodeChunk([]byte(head+`"choices":[{"delta":{"role":"assistant"}}]}`), &reused); err != nil {
			t.Fatalf("%s: %v", head, err)
		}
		if got := string(reused.head.bytes); got != strings.TrimLeft(head, " ") {
			t.Fatalf("head kept: %q, want %q", got, head)
		}
		for _, tail := range chunkTails {
			checkDecodeChunk(t, []byte(head+tail), &reused)
		}
	}
	// No head: choices first, or usage before them.
	for _, body := range []string{`{"choices":[],"id":"a"}`, `{"usage":{},"id":"a","choices":[]}`} {
		var c Chunk
		if err := DecodeChunk([]byte(body), &c); err != nil || len(c.head.bytes) != 0 {
			t.Errorf("DecodeChunk(%s): %v, head %q", body, err, c.head.bytes)
		}
	}
}

// FuzzDecodeChunkHead decodes head "choices":[]} and then head tail into
// the same Chunk: the second must read as Decode reads it.
func FuzzDecodeChunkHead(f *testing.F) {
	for i, head := range chunkHeads {
		for _, tail := range chunkTails[i%2:] {
			f.Add(head, tail)
		}
	}
	f.Fuzz(func(t *testing.T, head, tail string) {
		var reused Chunk
		if DecodeChunk([]byte(head+`"choices":[]}`), &reused) != nil {
			return
		}
		checkDecodeChunk(t, []byte(head+tail), &reused)
	})
}
