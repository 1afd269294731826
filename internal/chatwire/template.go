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
	doc jsonenc.CutTemplate // without the first chunk's role, and with it
	rest
}

// rest is what a chunk with one text decoded to but for that text. The
// fields are restored from here, not trusted in the Chunk, which its
// reader may have changed.
type rest struct {
	slot              textSlot
	id, model, finish string
	created           int64
	call              ChunkToolCall // with slotArguments: the call, Arguments nil
}

// keep makes r what c, just decoded with its one text in slot, decoded
// to.
func (r *rest) keep(c *Chunk, slot textSlot) {
	r.slot = slot
	r.id, r.model, r.created, r.finish = c.ID, c.Model, c.Created, c.FinishReason
	if slot == slotArguments {
		r.call = c.ToolCalls[0]
		r.call.Arguments = nil
	}
}

// restore makes c the chunk r was kept from with text as its text.
func (r *rest) restore(c *Chunk, text Token) {
	c.ID, c.Model, c.Created, c.FinishReason = r.id, r.model, r.created, r.finish
	c.Content, c.ReasoningContent, c.Refusal, c.Usage = nil, nil, nil, nil
	c.ToolCalls = c.ToolCalls[:0]
	switch r.slot {
	case slotContent:
		c.Content = text
	case slotReasoning:
		c.ReasoningContent = text
	case slotRefusal:
		c.Refusal = text
	case slotArguments:
		call := r.call
		call.Arguments = text
		c.ToolCalls = append(c.ToolCalls, call)
	}
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
	t.restore(c, text)
	return true
}

// remember makes b, just decoded into c, c's template when it carries
// exactly one text, and drops the template otherwise.
func (c *Chunk) remember(b []byte) {
	t := &c.tmpl
	t.slot = noTemplate
	t.doc.Clear()
	text, slot := c.oneText()
	// text is a slice of b: its offset is what their capacities differ
	// by, which the addresses confirm (a token is never empty).
	at := cap(b) - cap(text)
	if slot == noTemplate || at < 0 || at+len(text) > len(b) || &b[at] != &text[0] {
		return
	}
	if r := c.role; r[1] > 0 && r[1] <= at {
		t.doc.SetCut(b, r[0], r[1], at, at+len(text))
	} else {
		t.doc.Set(b, at, at+len(text))
	}
	t.keep(c, slot)
}

// oneText is c's text and its slot when c carries exactly one (and no
// usage), else noTemplate.
func (c *Chunk) oneText() (Token, textSlot) {
	if c.Usage != nil || len(c.ToolCalls) > 1 {
		return nil, noTemplate
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
			return nil, noTemplate
		}
		text, slot = c.ToolCalls[0].Arguments, slotArguments
		n++
	}
	if n != 1 || len(text) == 0 {
		return nil, noTemplate
	}
	return text, slot
}

// A relay in front of DecodeChunk (the gateway's) may keep a template of
// the stream's chunks of its own, as it checks them: a chunk its template
// matches is then read twice, by the relay's match and by DecodeChunk's.
// Mark takes the relay's word that the chunk just decoded is its template,
// with its text at doc[at]; FromMark then reads a chunk that template
// matched from its text alone. A chunk that is the template's bytes
// around another string (less its role member, which a Chunk does not
// read) reads as the template did but for that text (jsonenc.Template),
// so FromMark gives what DecodeChunk would.

// Mark makes doc, the chunk DecodeChunk just read into c, the chunk
// FromMark reads others as, its one text at doc[at]. It reports whether it
// could: doc must be that chunk (the same bytes, not a copy), read as or
// made a template (what it decoded to is then kept there, as it was
// before c's reader changed any field), with its text at doc[at]. A
// failed Mark leaves no mark.
func (c *Chunk) Mark(doc []byte, at int) bool {
	c.mark.slot = noTemplate
	last := c.last
	c.last = nil
	if len(doc) == 0 || len(last) != len(doc) || &last[0] != &doc[0] || at < 0 || at >= len(doc) || c.tmpl.slot == noTemplate {
		return false
	}
	text := c.slotText(c.tmpl.slot)
	if len(text) == 0 || &text[0] != &doc[at] {
		return false
	}
	if end, ok := jsonenc.String(doc, at); !ok || end != at+len(text) {
		return false
	}
	c.mark = c.tmpl.rest
	return true
}

// slotText is c's text in slot, as its reader may have left it.
func (c *Chunk) slotText(slot textSlot) Token {
	switch slot {
	case slotContent:
		return c.Content
	case slotReasoning:
		return c.ReasoningContent
	case slotRefusal:
		return c.Refusal
	case slotArguments:
		if len(c.ToolCalls) == 1 {
			return c.ToolCalls[0].Arguments
		}
	}
	return nil
}

// FromMark reads the marked chunk (Mark) with text, a JSON string token,
// as its text, and reports whether there was a mark.
func (c *Chunk) FromMark(text Token) bool {
	if c.mark.slot == noTemplate || len(text) < 2 {
		return false
	}
	c.last = nil
	c.mark.restore(c, text)
	return true
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
	*c = Chunk{ToolCalls: calls[:0], tmpl: template{doc: doc}, head: chunkHead{bytes: head}} // no mark, no last
}
