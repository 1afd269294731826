package anthropic

import (
	"net/http"
	"strings"
	"sync"

	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
)

// The data of the events that never change. Emit must not modify the
// data it is given.
var (
	pingData        = []byte(`{"type":"ping"}`)
	messageStopData = []byte(`{"type":"message_stop"}`)
)

// Emit receives one SSE event: its name (the "event:" line) and its JSON
// data. data is only valid during the call.
type Emit = func(event string, data []byte) error

// blockKind is the kind of the content block being streamed.
type blockKind uint8

const (
	noBlock blockKind = iota
	thinkingBlock
	textBlock
	toolBlock
)

// Stream translates a stream of chat completion chunks into Anthropic
// stream events. Feed each chunk's data to Chunk, call Flush before the
// events written so far are sent, then Finish once the upstream stream
// ends ([DONE]), or Fail when it breaks. Events come in Anthropic's
// order: message_start, ping, then for each block content_block_start,
// its deltas (one per Flush, for the text of the chunks since the last)
// and content_block_stop (blocks never
// overlap; indexes count from 0), then message_delta (stop_reason and
// usage) and message_stop. A Stream is not safe for concurrent use.
type Stream struct {
	info     RequestInfo
	started  bool
	finished bool
	open     blockKind
	next     int    // index of the next block
	toolIdx  int    // chat index of the open tool call
	toolID   string // its ID
	msgID    string // the first chunk's completion ID
	sig      signer
	finish   string
	usage    openai.Usage
	buf      []byte
	chunk    chatwire.Chunk // decoded into, chunk after chunk
	// pending is the escaped text of the open block's deltas not sent yet,
	// of type pendingType (field pendingKey): the chunks that arrive
	// together leave as one delta (see Flush).
	pending                 []byte
	pendingType, pendingKey string
	// deltaHead is the open block's content_block_delta up to its text
	// (its index and delta type, deltaIdx and deltaType): every delta of
	// the block starts with these bytes, built once.
	deltaHead []byte // in deltaBuf
	deltaBuf  [96]byte
	deltaType string
	deltaIdx  int
	// prefill is what is left to match of a prefill (RequestInfo.Prefill)
	// the engine may repeat; held, the text held back while it matches.
	prefill string
	held    []byte
	out     chatwire.EventBuffer // where deltas are built, when set (SetBuffer)
}

// SetBuffer has s build its content_block_delta events in out, the
// buffer they are written from (the other events still go to the emit
// func each call is given, which must write to the same place).
func (s *Stream) SetBuffer(out chatwire.EventBuffer) { s.out = out }

// NewStream starts the translation of one streamed response. Release
// returns the Stream for reuse once the response is written.
func NewStream(info RequestInfo) *Stream {
	s := streams.Get().(*Stream)
	buf, h, text, pending := s.buf[:0], s.sig.h, s.sig.text[:0], s.pending[:0]
	if h != nil {
		h.Reset()
	}
	*s = Stream{info: info, buf: buf, chunk: s.chunk, pending: pending, prefill: info.Prefill} // reset by Release
	s.deltaHead = s.deltaBuf[:0]
	s.sig.h, s.sig.text = h, text
	return s
}

// streams are the Streams of finished responses, reused with their
// buffers instead of allocated per response.
var streams = sync.Pool{New: func() any { return &Stream{buf: make([]byte, 0, 512)} }}

// Release hands s back for reuse. Neither s nor any event data it emitted
// may be used after.
func (s *Stream) Release() {
	if cap(s.buf) > 64<<10 || cap(s.sig.text) > 64<<10 || cap(s.pending) > 64<<10 {
		return // grown by a huge event: left to the garbage collector
	}
	s.chunk.Reset()
	s.info, s.out = RequestInfo{}, nil
	streams.Put(s)
}

// Chunk translates one chat completion chunk (the data of one SSE event,
// not [DONE]). The chunk's texts are copied into the events as they are
// escaped (chatwire.Token), not decoded and encoded again.
func (s *Stream) Chunk(chunk []byte, emit Emit) error {
	if err := chatwire.DecodeChunk(chunk, &s.chunk); err != nil {
		return &Error{Status: http.StatusBadGateway, Type: "api_error", Message: "upstream sent an unreadable chunk", Err: err}
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
		s.msgID = c.ID
		if err := s.start(c.ID, c.Model, emit); err != nil {
			return err
		}
	}
	if c.Usage != nil {
		s.usage = *c.Usage
	}
	if c.FinishReason != "" {
		s.finish = c.FinishReason
	}
	if !c.ReasoningContent.Empty() {
		if err := s.ensure(thinkingBlock, emit, nil); err != nil {
			return err
		}
		s.sig.write(c.ReasoningContent)
		s.delta("thinking_delta", "thinking", c.ReasoningContent)
	}
	text := c.Content
	if text.Empty() {
		text = c.Refusal
	}
	if !text.Empty() && s.prefill != "" {
		text = s.matchPrefill(text)
	}
	if len(c.ToolCalls) > 0 && s.prefill != "" {
		text = s.releaseHeld()
	}
	if err := s.text(text, emit); err != nil {
		return err
	}
	for i := range c.ToolCalls {
		if err := s.tool(&c.ToolCalls[i], emit); err != nil {
			return err
		}
	}
	return nil
}

// matchPrefill holds text back while the answer so far repeats the
// prefill (see RequestInfo.Prefill) and returns what is to be sent: the
// answer past a repeated prefill, or everything held once the answer
// turns out not to repeat it. Empty while it still may.
func (s *Stream) matchPrefill(text chatwire.Token) chatwire.Token {
	s.held = text.AppendText(s.held)
	switch {
	case strings.HasPrefix(s.info.Prefill, string(s.held)) && len(s.held) < len(s.info.Prefill):
		return nil // a repeat so far: wait for more
	case strings.HasPrefix(string(s.held), s.info.Prefill):
		text = chatwire.Token(jsonenc.AppendString(nil, string(s.held[len(s.info.Prefill):])))
	default:
		text = chatwire.Token(jsonenc.AppendString(nil, string(s.held)))
	}
	s.prefill, s.held = "", s.held[:0]
	return text
}

// text streams text into the open text block (opening one).
func (s *Stream) text(text chatwire.Token, emit Emit) error {
	if text.Empty() {
		return nil
	}
	if err := s.ensure(textBlock, emit, nil); err != nil {
		return err
	}
	s.delta("text_delta", "text", text)
	return nil
}

// releaseHeld gives up matching the prefill (the answer went on to
// something else, or ended) and returns the text held back for it, to be
// sent as it is.
func (s *Stream) releaseHeld() chatwire.Token {
	if s.prefill == "" {
		return nil
	}
	t := chatwire.Token(jsonenc.AppendString(nil, string(s.held)))
	s.prefill, s.held = "", s.held[:0]
	return t
}

// tool streams one tool call fragment. A fragment with a new chat index
// (or an ID) starts a new tool_use block; the rest are argument deltas.
func (s *Stream) tool(tc *chatwire.ChunkToolCall, emit Emit) error {
	idx := tc.Index
	if s.open != toolBlock || idx != s.toolIdx || tc.ID != "" && tc.ID != s.toolID {
		s.toolIdx, s.toolID = idx, tc.ID
		tc.ID = tc.CallID(s.msgID)
		if err := s.ensure(toolBlock, emit, tc); err != nil {
			return err
		}
	}
	if tc.Arguments.Empty() {
		return nil
	}
	s.delta("input_json_delta", "partial_json", tc.Arguments)
	return nil
}

// start emits message_start and a ping. Usage is not known yet: the final
// figures come in message_delta.
func (s *Stream) start(id, mdl string, emit Emit) error {
	s.started = true
	b := append(s.buf[:0], `{"type":"message_start","message":{"id":`...)
	b = appendMessageID(b, id)
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = jsonenc.AppendString(b, model(mdl, s.info))
	b = append(b, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}}`...)
	s.buf = b
	if err := emit("message_start", b); err != nil {
		return err
	}
	return emit("ping", pingData)
}

// ensure makes kind the open block, closing the open one first. A tool
// block is always new (tc describes it).
func (s *Stream) ensure(kind blockKind, emit Emit, tc *chatwire.ChunkToolCall) error {
	if s.open == kind && kind != toolBlock {
		return nil
	}
	if err := s.close(emit); err != nil {
		return err
	}
	b := append(s.buf[:0], `{"type":"content_block_start","index":`...)
	b = jsonenc.AppendInt(b, int64(s.next))
	switch kind {
	case thinkingBlock:
		b = append(b, `,"content_block":{"type":"thinking","thinking":"","signature":""}}`...)
	case textBlock:
		b = append(b, `,"content_block":{"type":"text","text":""}}`...)
	case toolBlock:
		b = append(b, `,"content_block":{"type":"tool_use","id":`...)
		b = jsonenc.AppendString(b, tc.ID)
		b = append(b, `,"name":`...)
		b = jsonenc.AppendString(b, tc.Name)
		b = append(b, `,"input":{}}}`...)
	}
	s.buf = b
	s.open = kind
	return emit("content_block_start", b)
}

// delta adds value to the open block's text; its content_block_delta
// (of type typ, field key) leaves with the next Flush or before the next
// other event.
func (s *Stream) delta(typ, key string, value chatwire.Token) {
	if s.pending == nil {
		s.pending = make([]byte, 0, 256) // a burst's text without regrowing (kept by Release)
	}
	s.pendingType, s.pendingKey = typ, key
	s.pending = value.AppendEscaped(s.pending)
}

// Flush emits the content_block_delta of the text added since the last
// one: one event for the chunks of a burst (a stream replayed from the
// cache, an engine faster than its client), which leave in one write
// anyway; one per chunk when each is flushed as it comes. The gateway
// flushes whenever it would wait for the upstream, so no text waits for
// the next chunk.
func (s *Stream) Flush(emit Emit) error {
	if s.pendingType == "" {
		return nil
	}
	err := s.emitDelta(s.pendingType, s.pendingKey, s.pending, emit)
	s.pending, s.pendingType = s.pending[:0], ""
	return err
}

// emitDelta emits a content_block_delta of type typ with field key =
// the escaped text esc.
func (s *Stream) emitDelta(typ, key string, esc []byte, emit Emit) error {
	if s.deltaType != typ || s.deltaIdx != s.next { // key goes with typ
		h := append(s.deltaHead[:0], `{"type":"content_block_delta","index":`...)
		h = jsonenc.AppendInt(h, int64(s.next))
		h = append(h, `,"delta":{"type":"`...)
		h = append(h, typ...)
		h = append(h, `","`...)
		h = append(h, key...)
		h = append(h, `":"`...)
		s.deltaHead, s.deltaType, s.deltaIdx = h, typ, s.next
	}
	if s.out != nil {
		b := append(s.out.Begin("content_block_delta"), s.deltaHead...)
		b = append(b, esc...)
		return s.out.End(append(b, `"}}`...))
	}
	b := append(s.buf[:0], s.deltaHead...)
	b = append(b, esc...)
	b = append(b, `"}}`...)
	s.buf = b
	return emit("content_block_delta", b)
}

// close ends the open block, after its last delta; a thinking block gets
// its signature first.
func (s *Stream) close(emit Emit) error {
	if s.open == noBlock {
		return nil
	}
	if err := s.Flush(emit); err != nil {
		return err
	}
	if s.open == thinkingBlock {
		s.pending = s.sig.token().AppendEscaped(s.pending[:0])
		err := s.emitDelta("signature_delta", "signature", s.pending, emit)
		s.pending = s.pending[:0]
		if err != nil {
			return err
		}
	}
	b := append(s.buf[:0], `{"type":"content_block_stop","index":`...)
	b = jsonenc.AppendInt(b, int64(s.next))
	b = append(b, '}')
	s.buf = b
	s.open = noBlock
	s.next++
	return emit("content_block_stop", b)
}

// Finish ends the message: it closes the open block and emits
// message_delta (stop_reason, usage) and message_stop. It is a no-op after
// the first call.
func (s *Stream) Finish(emit Emit) error {
	if s.finished {
		return nil
	}
	if !s.started {
		if err := s.start("", "", emit); err != nil {
			return err
		}
	}
	s.finished = true
	if err := s.text(s.releaseHeld(), emit); err != nil { // an answer that ended inside the prefill
		return err
	}
	if err := s.close(emit); err != nil {
		return err
	}
	b := append(s.buf[:0], `{"type":"message_delta","delta":{"stop_reason":`...)
	b = jsonenc.AppendString(b, StopReason(s.finish))
	b = append(b, `,"stop_sequence":null},"usage":`...)
	b = appendUsage(b, s.usage, false)
	b = append(b, '}')
	s.buf = b
	if err := emit("message_delta", b); err != nil {
		return err
	}
	return emit("message_stop", messageStopData)
}

// Fail emits an error event, Anthropic's way of ending a stream that broke
// after it started. Nothing is emitted after it.
func (s *Stream) Fail(e *Error, emit Emit) error {
	if err := s.Flush(emit); err != nil { // what came before the failure
		return err
	}
	s.finished = true
	return emit("error", e.JSON())
}
