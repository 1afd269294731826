package chatwire

import "github.com/dsgate/dsgate/internal/jsonenc"

// DecodeChunk keeps the last chunk that carried exactly one text
// (content, reasoning_content, refusal or one tool call's arguments) as a
// template (jsonenc.Template, which says why this is exact): a chunk that
// is the template's bytes around one JSON string is that chunk with a new
// text, read without a walk. BenchmarkDecodeChunk measures both ways.
//
// A stream's first chunk has a role its other chunks lack
// ({"role":"assistant","content":""}, then {"content":"The"}): the
// template kept from it leaves its delta's role member out, with the comma
// after it. That chunk without the member is valid JSON and reads as it
// did, the role being no field of a Chunk; so the chunks after it are read
// from its template, not walked until one of them is.

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
	doc  jsonenc.CutTemplate // without the first chunk's role, and with it
	slot textSlot
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
	if t.slot == noTemplate {
		return false
	}
	text, ok := t.doc.Match(b)
	if !ok {
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
	t.doc.Clear()
	if c.Usage != nil || len(c.ToolCalls) > 1 {
		return
	}
	var text Token
	slot, n := noTemplate, 0
	for _, f := range [...]struct {
		t    Token
		slot textSlot
	}{{c.Content, slotContent}, {c.ReasoningContent, slotReasoning}, {c.Refusal, slotRefusal}} {
		if f.t != nil {
			text, slot = f.t, f.slot
			n++
		}
	}
	if len(c.ToolCalls) == 1 {
		// A call's fragment is a template only with its arguments as the
		// chunk's one text.
		if c.ToolCalls[0].Arguments == nil {
			return
		}
		text, slot = c.ToolCalls[0].Arguments, slotArguments
		n++
	}
	// text is a slice of b: its offset is what their capacities differ
	// by, which the addresses confirm (a token is never empty).
	at := cap(b) - cap(text)
	if n != 1 || len(text) == 0 || at < 0 || at+len(text) > len(b) || &b[at] != &text[0] {
		return
	}
	if r := c.role; r[1] > 0 && r[1] <= at {
		t.doc.SetCut(b, r[0], r[1], at, at+len(text))
	} else {
		t.doc.Set(b, at, at+len(text))
	}
	t.slot = slot
	t.id, t.model, t.created, t.finish = c.ID, c.Model, c.Created, c.FinishReason
	if slot == slotArguments {
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
	doc := c.tmpl.doc
	doc.Reset()
	head := c.head.bytes[:0]
	if cap(head) > 4<<10 {
		head = nil
	}
	*c = Chunk{ToolCalls: calls[:0], tmpl: template{doc: doc}, head: chunkHead{bytes: head}}
}
