package chatwire

import (
	"bytes"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// The chunks of one stream differ, from the second on, mostly in one
// text: every engine repeats the id, created, model and choice around
// each token ({"id":"x",...,"choices":[{"index":0,"delta":{"content":"`
// TOKEN `"},"finish_reason":null}]}). DecodeChunk keeps the last chunk
// that carried exactly one text (content, reasoning_content, refusal or
// one tool call's arguments) as a template: its bytes without that text,
// and what they decoded to. A chunk that is the template's bytes around
// one JSON string is that template with a new text, without a walk: the
// bytes before the string leave any JSON reader in the same state as the
// template's did, where a value starts; a complete string token leaves it
// after a value, as the template's text did; and the same bytes follow.
// So the chunk is valid exactly when the string is, and every other field
// decodes as the template's did. BenchmarkDecodeChunk measures both ways.

// textSlot says which field of a Chunk holds a template's text.
type textSlot uint8

const (
	noTemplate textSlot = iota
	slotContent
	slotReasoning
	slotRefusal
	slotArguments // ToolCalls[0].Arguments, the chunk's only tool call
)

// template is the last chunk with one text, as DecodeChunk keeps it.
type template struct {
	slot  textSlot
	bytes []byte // the chunk without its text
	at    int    // where the text was cut out
	// What the rest decoded to; the fields are restored from here, not
	// trusted in the Chunk, which its reader may have changed.
	id, model, finish string
	created           int64
	call              ChunkToolCall // with slotArguments: the call, Arguments nil
}

// fromTemplate decodes b, already trimmed, as c's template with a new
// text, and reports whether it could.
func (c *Chunk) fromTemplate(b []byte) bool {
	t := &c.tmpl
	if t.slot == noTemplate || len(b) < len(t.bytes)+2 {
		return false
	}
	head, tail := t.bytes[:t.at], t.bytes[t.at:]
	if !bytes.HasPrefix(b, head) || !bytes.HasSuffix(b, tail) {
		return false
	}
	text := b[len(head) : len(b)-len(tail)]
	if end, ok := jsonenc.String(text, 0); !ok || end != len(text) {
		return false
	}
	c.ID, c.Model, c.Created, c.FinishReason = t.id, t.model, t.created, t.finish
	c.Content, c.ReasoningContent, c.Refusal, c.Usage = nil, nil, nil, nil
	c.ToolCalls = c.ToolCalls[:0]
	switch t.slot {
	case slotContent:
		c.Content = text
	case slotReasoning:
		c.ReasoningContent = text
	case slotRefusal:
		c.Refusal = text
	case slotArguments:
		call := t.call
		call.Arguments = text
		c.ToolCalls = append(c.ToolCalls, call)
	}
	return true
}

// remember makes b, just decoded into c, c's template when it carries
// exactly one text, and drops the template otherwise.
func (c *Chunk) remember(b []byte) {
	t := &c.tmpl
	t.slot = noTemplate
	if c.Usage != nil || len(c.ToolCalls) > 1 {
		return
	}
	var text Token
	n := 0
	for _, f := range [...]struct {
		t    Token
		slot textSlot
	}{{c.Content, slotContent}, {c.ReasoningContent, slotReasoning}, {c.Refusal, slotRefusal}} {
		if f.t != nil {
			text, t.slot = f.t, f.slot
			n++
		}
	}
	if len(c.ToolCalls) == 1 {
		// A call's fragment is a template only with its arguments as the
		// chunk's one text.
		if c.ToolCalls[0].Arguments == nil {
			t.slot = noTemplate
			return
		}
		text, t.slot = c.ToolCalls[0].Arguments, slotArguments
		n++
	}
	// text is a slice of b: its offset is what their capacities differ by.
	at := cap(b) - cap(text)
	if n != 1 || at < 0 || at+len(text) > len(b) {
		t.slot = noTemplate
		return
	}
	if cap(t.bytes) < len(b) {
		t.bytes = make([]byte, 0, max(len(b), 512)) // once per stream, as a rule
	}
	t.bytes = append(append(t.bytes[:0], b[:at]...), b[at+len(text):]...)
	t.at = at
	t.id, t.model, t.created, t.finish = c.ID, c.Model, c.Created, c.FinishReason
	if t.slot == slotArguments {
		t.call = c.ToolCalls[0]
		t.call.Arguments = nil
	}
}

// Reset empties c for another stream but keeps its storage, as a pooled
// translator does between streams: nothing of the last chunk is left to
// read, and no string of it is kept alive.
func (c *Chunk) Reset() {
	calls := c.ToolCalls[:cap(c.ToolCalls)]
	clear(calls)
	kept := c.tmpl.bytes[:0]
	if cap(kept) > 16<<10 {
		kept = nil // grown by a huge chunk: left to the garbage collector
	}
	*c = Chunk{ToolCalls: calls[:0], tmpl: template{bytes: kept}}
}
