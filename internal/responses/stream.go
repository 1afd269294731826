package responses

import (
	"sync"

	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
)

// Emit receives one SSE event: its name (the "event:" line, equal to the
// data's type) and its JSON data. data is only valid during the call.
type Emit = func(event string, data []byte) error

// Stream translates a stream of chat completion chunks into Responses
// stream events. Feed each chunk's data to Chunk, call Flush before the
// events written so far are sent, then Finish once the upstream stream
// ends ([DONE]), or Fail when it breaks.
//
// Events, each with the next sequence_number from 0: response.created,
// response.in_progress; per output item, in output order and never
// overlapping: response.output_item.added, response.content_part.added
// (reasoning and message items), the deltas
// (response.reasoning_text.delta, response.output_text.delta,
// response.function_call_arguments.delta: one per Flush, for the text of
// the chunks since the last), their .done events,
// response.content_part.done and response.output_item.done; finally
// response.completed (or response.incomplete when the output was cut by
// max_output_tokens). This is the order the openai SDKs' accumulators
// check: an item is added at output_index == len(output), a part at
// content_index == len(content). A Stream is not safe for concurrent use.
type Stream struct {
	info     RequestInfo
	res      result
	seq      int
	started  bool
	finished bool
	cut      bool // the item closed last is the one a limit cut (Finish)
	open     int  // index of the open item in res.items, or -1
	toolIdx  int  // chat index of the open tool call
	buf      []byte
	head     []byte         // the open item's fields in its events (itemHead), in headBuf
	headBuf  [128]byte      // room for head with any usual id
	texts    []byte         // the items' escaped texts, one after the other
	chunk    chatwire.Chunk // decoded into, chunk after chunk
	// The open item's text from pending on (an offset in its text) is
	// not sent yet: the deltas of chunks that arrive together leave as one
	// event, of type pendingType (see Flush).
	pending     int
	pendingType string
	// deltaHead is the open item's delta event of type deltaType up to
	// its text, but for the sequence number, which goes at deltaSeqAt: every
	// delta of the item starts with these bytes, built once.
	deltaHead  []byte    // in deltaBuf
	deltaBuf   [192]byte // room for deltaHead with head's usual id
	deltaType  string
	deltaItem  int
	deltaSeqAt int
	out        chatwire.EventBuffer // where deltas are built, when set (SetBuffer)
}

// SetBuffer has s build its delta events in out, the buffer they are
// written from (the other events still go to the emit func each call is
// given, which must write to the same place).
func (s *Stream) SetBuffer(out chatwire.EventBuffer) { s.out = out }

// NewStream starts the translation of one streamed response. Release
// returns the Stream for reuse once the response is written.
func NewStream(info RequestInfo) *Stream {
	s := streams.Get().(*Stream)
	// Room for response.created and response.in_progress, built one
	// after the other, and for response.completed without its output:
	// they carry the request's tools and instructions.
	n := 2048 + 2*(len(info.Tools)+len(info.Instructions)+len(info.Metadata))
	buf, texts, items := s.buf[:0], s.texts[:0], s.res.items[:0]
	if cap(buf) < n {
		buf = make([]byte, 0, n)
	}
	*s = Stream{info: info, open: -1, buf: buf, texts: texts, chunk: s.chunk} // reset by Release
	s.head, s.deltaHead = s.headBuf[:0], s.deltaBuf[:0]
	s.res.id = info.ID
	s.res.items = items
	return s
}

// streams are the Streams of finished responses: their buffers (2 KiB
// and more, for the events that carry the whole response) are reused
// instead of allocated per response.
var streams = sync.Pool{New: func() any { return &Stream{res: result{items: make([]outItem, 0, 4)}} }}

// maxPooled is the biggest buffer a released Stream keeps: one grown by
// a huge response is left to the garbage collector.
const maxPooled = 64 << 10

// Release hands s back for reuse. Neither s nor any event data it emitted
// may be used after.
func (s *Stream) Release() {
	if cap(s.buf) > maxPooled || cap(s.texts) > maxPooled {
		return
	}
	clear(s.res.items[:cap(s.res.items)]) // drop their strings
	s.chunk.Reset()
	s.info, s.out = RequestInfo{}, nil
	streams.Put(s)
}

// Chunk translates one chat completion chunk (the data of one SSE event,
// not [DONE]). The chunk's texts are copied into the events as they are
// escaped (chatwire.Token), not decoded and encoded again.
func (s *Stream) Chunk(chunk []byte, emit Emit) error {
	if err := chatwire.DecodeChunk(chunk, &s.chunk); err != nil {
		return upstreamError(err)
	}
	return s.translate(emit)
}

// Templated takes the relay's word that chunk, just given to Chunk, is
// the template it matches chunks against, its text at chunk[at]
// (chatwire.Chunk.Mark).
func (s *Stream) Templated(chunk []byte, at int) { s.chunk.Mark(chunk, at) }

// Same is Chunk for a chunk the relay's template matched, text its text:
// read from that alone when the template was marked (Templated).
func (s *Stream) Same(chunk, text []byte, emit Emit) error {
	if !s.chunk.FromMark(text) {
		return s.Chunk(chunk, emit)
	}
	return s.translate(emit)
}

// translate emits the events of the chunk just read.
func (s *Stream) translate(emit Emit) error {
	c := &s.chunk
	if !s.started {
		s.res.chatID, s.res.model, s.res.created = c.ID, c.Model, c.Created
		if err := s.start(emit); err != nil {
			return err
		}
	}
	if c.Usage != nil {
		s.res.usage = *c.Usage
	}
	if c.FinishReason != "" {
		s.res.finish = c.FinishReason
	}
	if !c.ReasoningContent.Empty() {
		if err := s.ensureText(reasoningItem, "rs_", emit); err != nil {
			return err
		}
		s.delta("response.reasoning_text.delta", c.ReasoningContent)
	}
	text := c.Content
	if text.Empty() {
		text = c.Refusal
	}
	if !text.Empty() {
		if err := s.ensureText(messageItem, "msg_", emit); err != nil {
			return err
		}
		s.delta("response.output_text.delta", text)
	}
	for i := range c.ToolCalls {
		if err := s.tool(&c.ToolCalls[i], emit); err != nil {
			return err
		}
	}
	return nil
}

// tool streams one tool call fragment; a new chat index or ID starts a new
// function_call item.
func (s *Stream) tool(tc *chatwire.ChunkToolCall, emit Emit) error {
	idx := tc.Index
	cur := s.current()
	if cur == nil || cur.kind != functionCallItem && cur.kind != customCallItem || idx != s.toolIdx || tc.ID != "" && tc.ID != cur.callID {
		tc.ID = tc.CallID(s.res.chatID)
		kind, prefix := functionCallItem, "fc_"
		if s.info.custom(tc.Name) {
			kind, prefix = customCallItem, "ctc_"
		}
		if err := s.ensure(kind, prefix, tc.ID, tc, emit); err != nil {
			return err
		}
		s.toolIdx = idx
		cur = s.current()
	}
	if tc.Arguments.Empty() {
		return nil
	}
	if cur.kind == customCallItem {
		// The input is inside the JSON arguments: sent whole at the end.
		s.appendText(cur, tc.Arguments)
		return nil
	}
	s.delta("response.function_call_arguments.delta", tc.Arguments)
	return nil
}

func (s *Stream) current() *outItem {
	if s.open < 0 {
		return nil
	}
	return &s.res.items[s.open]
}

// begin starts an event's data: {"type":typ,"sequence_number":n.
func (s *Stream) begin(typ string) []byte {
	return s.beginAt(s.buf[:0], typ)
}

// beginAt is begin appending to b.
func (s *Stream) beginAt(b []byte, typ string) []byte {
	return s.appendSeq(eventType(b, typ))
}

// eventType appends the start of an event's data up to its sequence
// number: {"type":typ,"sequence_number":.
func eventType(b []byte, typ string) []byte {
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	return append(b, `","sequence_number":`...)
}

// appendSeq appends the next sequence number.
func (s *Stream) appendSeq(b []byte) []byte {
	b = jsonenc.AppendInt(b, int64(s.seq))
	s.seq++
	return b
}

func (s *Stream) send(typ string, b []byte, emit Emit) error {
	b = append(b, '}')
	s.buf = b
	return emit(typ, b)
}

// start emits response.created and response.in_progress. Both carry the
// same response, encoded once: the second event copies it.
func (s *Stream) start(emit Emit) error {
	s.started = true
	b := append(s.begin("response.created"), `,"response":`...)
	n := len(b)
	b = appendResponse(b, &s.res, s.info, "in_progress", nil)
	m := len(b)
	if err := s.send("response.created", b, emit); err != nil {
		return err
	}
	b = s.buf // the created event; the next one is built after it
	end := len(b)
	b = append(s.beginAt(b, "response.in_progress"), `,"response":`...)
	b = append(b, b[n:m]...)
	b = append(b, '}')
	s.buf = b
	return emit("response.in_progress", b[end:])
}

// itemHead appends the fields every event of the open item has, encoded
// once per item (ensure), not once per delta.
func (s *Stream) itemHead(b []byte, withContent bool) []byte {
	b = append(b, s.head...)
	if withContent {
		b = append(b, `,"content_index":0`...)
	}
	return b
}

// ensureText is ensure for a reasoning or message item, whose id is
// prefix + the chat id.
func (s *Stream) ensureText(kind itemKind, prefix string, emit Emit) error {
	if cur := s.current(); cur != nil && cur.kind == kind {
		return nil
	}
	return s.ensure(kind, prefix, s.res.chatID, nil, emit)
}

// ensure makes an item of kind the open item, closing the open one first.
// A function call item is always new.
func (s *Stream) ensure(kind itemKind, prefix, base string, tc *chatwire.ChunkToolCall, emit Emit) error {
	if cur := s.current(); cur != nil && cur.kind == kind && kind != functionCallItem && kind != customCallItem {
		return nil
	}
	if err := s.close(emit); err != nil {
		return err
	}
	it := outItem{kind: kind, prefix: prefix, base: base}
	if tc != nil {
		it.callID, it.name = tc.ID, tc.Name
	}
	s.res.items = append(s.res.items, it)
	s.open = len(s.res.items) - 1
	s.head = append(s.head[:0], `,"item_id":`...)
	s.head = s.current().appendID(s.head)
	s.head = append(s.head, `,"output_index":`...)
	s.head = jsonenc.AppendInt(s.head, int64(s.open))
	b := append(s.begin("response.output_item.added"), `,"output_index":`...)
	b = jsonenc.AppendInt(b, int64(s.open))
	b = append(b, `,"item":`...)
	b = appendItem(b, s.current(), false)
	if err := s.send("response.output_item.added", b, emit); err != nil {
		return err
	}
	switch kind {
	case reasoningItem:
		b = s.itemHead(s.begin("response.content_part.added"), true)
		b = append(b, `,"part":{"type":"reasoning_text","text":""}`...)
		return s.send("response.content_part.added", b, emit)
	case messageItem:
		b = s.itemHead(s.begin("response.content_part.added"), true)
		b = append(b, `,"part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}`...)
		return s.send("response.content_part.added", b, emit)
	}
	return nil
}

// appendText appends t, escaped, to the text of it, the open item. The
// items' texts share one buffer: only the open item grows, at its end.
func (s *Stream) appendText(it *outItem, t chatwire.Token) {
	start := len(s.texts) - len(it.text)
	s.texts = t.AppendEscaped(s.texts)
	it.text = s.texts[start:]
}

// delta appends text to the open item; its delta event leaves with the
// next Flush or before the next other event.
func (s *Stream) delta(typ string, text chatwire.Token) {
	it := s.current()
	if s.pendingType == "" {
		s.pending, s.pendingType = len(it.text), typ
	}
	s.appendText(it, text)
}

// Flush emits the delta event of the text added since the last one: one
// event for the chunks of a burst (a stream replayed from the cache, an
// engine faster than its client), which leave in one write anyway; one
// per chunk when each is flushed as it comes. The gateway flushes
// whenever it would wait for the upstream, so no text waits for the next
// chunk.
func (s *Stream) Flush(emit Emit) error {
	typ := s.pendingType
	if typ == "" {
		return nil
	}
	s.pendingType = ""
	it := s.current()
	if s.deltaType != typ || s.deltaItem != s.open {
		h := eventType(s.deltaHead[:0], typ)
		s.deltaSeqAt = len(h)
		h = s.itemHead(h, typ != "response.function_call_arguments.delta")
		h = append(h, `,"delta":`...)
		s.deltaHead, s.deltaType, s.deltaItem = h, typ, s.open
	}
	// begin's and itemHead's bytes, copied around the sequence number
	b := s.buf[:0]
	if s.out != nil {
		b = s.out.Begin(typ)
	}
	b = s.appendSeq(append(b, s.deltaHead[:s.deltaSeqAt]...))
	b = append(b, s.deltaHead[s.deltaSeqAt:]...)
	b = appendQuoted(b, it.text[s.pending:])
	if typ == "response.output_text.delta" {
		b = append(b, `,"logprobs":[]`...)
	}
	if s.out != nil {
		return s.out.End(append(b, '}'))
	}
	return s.send(typ, b, emit)
}

// close emits the .done events of the open item, after its last delta.
func (s *Stream) close(emit Emit) error {
	it := s.current()
	if it == nil {
		return nil
	}
	if err := s.Flush(emit); err != nil {
		return err
	}
	var b []byte
	switch it.kind {
	case reasoningItem:
		b = s.itemHead(s.begin("response.reasoning_text.done"), true)
		b = append(b, `,"text":`...)
		b = appendQuoted(b, it.text)
		if err := s.send("response.reasoning_text.done", b, emit); err != nil {
			return err
		}
		b = s.itemHead(s.begin("response.content_part.done"), true)
		b = append(b, `,"part":`...)
		b = appendReasoningPart(b, it.text)
		if err := s.send("response.content_part.done", b, emit); err != nil {
			return err
		}
	case messageItem:
		b = s.itemHead(s.begin("response.output_text.done"), true)
		b = append(b, `,"text":`...)
		b = appendQuoted(b, it.text)
		b = append(b, `,"logprobs":[]`...)
		if err := s.send("response.output_text.done", b, emit); err != nil {
			return err
		}
		b = s.itemHead(s.begin("response.content_part.done"), true)
		b = append(b, `,"part":`...)
		b = appendTextPart(b, it.text)
		if err := s.send("response.content_part.done", b, emit); err != nil {
			return err
		}
	case customCallItem:
		input := customInput(it.text)
		b = s.itemHead(s.begin("response.custom_tool_call_input.delta"), false)
		b = append(b, `,"delta":`...)
		b = jsonenc.AppendString(b, input)
		if err := s.send("response.custom_tool_call_input.delta", b, emit); err != nil {
			return err
		}
		b = s.itemHead(s.begin("response.custom_tool_call_input.done"), false)
		b = append(b, `,"input":`...)
		b = jsonenc.AppendString(b, input)
		if err := s.send("response.custom_tool_call_input.done", b, emit); err != nil {
			return err
		}
	case functionCallItem:
		b = s.itemHead(s.begin("response.function_call_arguments.done"), false)
		b = append(b, `,"name":`...)
		b = jsonenc.AppendString(b, it.name)
		b = append(b, `,"arguments":`...)
		b = appendQuoted(b, it.text)
		if err := s.send("response.function_call_arguments.done", b, emit); err != nil {
			return err
		}
	}
	it.done = true
	b = append(s.begin("response.output_item.done"), `,"output_index":`...)
	b = jsonenc.AppendInt(b, int64(s.open))
	b = append(b, `,"item":`...)
	b = appendItem(b, it, s.cut)
	s.open = -1
	return s.send("response.output_item.done", b, emit)
}

// Finish closes the open item and emits response.completed, or
// response.incomplete when the upstream stopped at the token limit or a
// content filter. It is a no-op after the first call.
func (s *Stream) Finish(emit Emit) error {
	if s.finished {
		return nil
	}
	if !s.started {
		if err := s.start(emit); err != nil {
			return err
		}
	}
	s.finished = true
	status, _ := s.res.status()
	s.cut = status == "incomplete" // the open item is the last, the one cut
	if err := s.close(emit); err != nil {
		return err
	}
	typ := "response.completed"
	if status == "incomplete" {
		typ = "response.incomplete"
	}
	b := append(s.begin(typ), `,"response":`...)
	b = appendResponse(b, &s.res, s.info, status, nil)
	return s.send(typ, b, emit)
}

// Fail ends a broken stream with response.failed carrying e. Nothing is
// emitted after it.
func (s *Stream) Fail(e *openai.Error, emit Emit) error {
	if s.finished {
		return nil
	}
	if !s.started {
		if err := s.start(emit); err != nil {
			return err
		}
	}
	if err := s.Flush(emit); err != nil { // what came before the failure
		return err
	}
	s.finished = true
	b := append(s.begin("response.failed"), `,"response":`...)
	b = appendResponse(b, &s.res, s.info, "failed", e)
	return s.send("response.failed", b, emit)
}
