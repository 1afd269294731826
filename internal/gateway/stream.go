package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

// Sink receives a stream on its way to the client. A transport commits its
// response headers on the first call. The payload slices are only valid
// during the call. An error means the client is gone.
type Sink interface {
	// Comment forwards an SSE comment line such as ": keep-alive".
	Comment(line []byte) error
	// Data forwards one data payload, without the "data: " framing.
	Data(payload []byte) error
}

// FlushSink is a Sink that buffers what it is given until Flush. The
// gateway flushes whenever it would otherwise wait for the upstream, so no
// event is held back while the gateway idles, and a burst of events leaves
// in one write. The events of a stream that ended (its upstream body's end
// came with [DONE]) are left for the owner of the sink to flush: an HTTP
// handler's response writer is flushed, with the response's end, when the
// handler returns (and first by the pipeline when the request's settlement
// waits on a remote store). A Sink without Flush must send each event as
// it comes.
type FlushSink interface {
	Sink
	Flush() error
}

// TemplateSink is a Sink that reads the chunks it is given (a stream
// translator), and may take the relay's reading of them: most chunks of a
// stream are the bytes of the last text chunk around another text, and
// the relay, which checks each chunk, finds that by matching that chunk as
// its template (streamState.remember). Templated follows the Data of the
// chunk that became the template, its text at p[at]; Same replaces the
// Data of a chunk the template matched, text its text (a JSON string
// token in p). Same comes only after a Templated, for the template that
// Templated named, or none set since (a chunk the relay reads otherwise
// comes by Data and does not change the template until a Templated).
type TemplateSink interface {
	Sink
	Templated(p []byte, at int)
	Same(p, text []byte) error
}

func flush(sink Sink) error {
	if f, ok := sink.(FlushSink); ok {
		return f.Flush()
	}
	return nil
}

// Stream serves a streaming call. Until the first data event reaches the
// client, any failure is retried on another target; after that, the error
// is returned with Result.Started set, and the transport ends the stream
// with an error event.
func (g *Gateway) Stream(ctx context.Context, c *Call, sink Sink) (*Result, error) {
	r, err := g.route(c)
	if err != nil {
		return &Result{}, err
	}
	if l, ok := g.lookup(c, r); ok {
		return g.streamCached(ctx, c, r, l, sink)
	}
	if g.opts.Cache != nil {
		c.onCache(CacheBypass, "")
	}
	res, err := g.stream(ctx, c, r, sink, nil)
	if g.opts.Cache != nil {
		res.Cache = CacheBypass
	}
	return res, err
}

// stream calls upstreams for a streaming call, without the cache. record,
// when set, sees every chunk as adapted for the client, including the
// usage chunk the client may not get.
func (g *Gateway) stream(ctx context.Context, c *Call, r *Route, sink Sink, record func([]byte)) (*Result, error) {
	var res *Result
	n, err := g.run(ctx, c, r, func(ctx context.Context, rt *Route, t *upstream.Target) (time.Duration, bool, error) {
		var err error
		if c.relays(t, sink) {
			res, err = g.streamNative(ctx, c, rt, t, sink.(EventSink))
		} else {
			res, err = g.streamOnce(ctx, c, rt, t, sink, record)
		}
		return res.FirstToken, res.Started, err
	})
	if res == nil {
		res = &Result{}
	}
	if res.Started && !res.HasUsage {
		res.estimateUsage(c) // what was delivered is charged
	}
	if err != nil && !res.Started {
		if fb, ok := g.fallbackAnswer(c, r, err, n); ok {
			if c.Notes != nil {
				c.Notes.Fallback()
			}
			return fb, streamFallback(sink, c, r, g.opts.Now())
		}
	}
	res.Attempts = n
	return res, err
}

func (g *Gateway) streamOnce(ctx context.Context, c *Call, r *Route, t *upstream.Target, sink Sink, record func([]byte)) (*Result, error) {
	u := t.Upstream
	res := &Result{Upstream: u.Name(), Model: r.Name}
	res.UpstreamModel, _ = upstreamModel(t)
	res.UpstreamKind = u.Kind()
	start := time.Now()
	body, err := requestFor(c, r, t)
	if err != nil {
		return res, fmt.Errorf("adapting request: %w", err)
	}

	sctx, wd := newWatchdog(ctx, u)
	defer wd.stop()

	resp, err := u.Send(sctx, sendEndpoint(c), body, c.RequestID)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	return g.relay(sctx, c, t, sink, record, res, resp.Body, wd, start)
}

// relay forwards the upstream's stream, resp, to sink: streamOnce's second
// half, a function of its own so that the relay's state is not on the
// stack while Send runs. The state is a relay on the heap, and its steps
// are methods, not closures in one frame: a stream's goroutine stays in
// the relay for the stream's whole life, and its stack then fits 8 KiB,
// with the reads and writes below it (issue 22: 8 KiB of every open
// stream; TestStreamStack).
func (g *Gateway) relay(sctx context.Context, c *Call, t *upstream.Target, sink Sink, record func([]byte), res *Result, resp io.Reader, wd *watchdog, start time.Time) (*Result, error) {
	u := t.Upstream
	rl := relays.Get().(*relay) // zero (free): set field by field, not from a literal built in the frame
	rl.st.adapter, rl.st.clientUsage = newResponseAdapter(c, t), c.Req.IncludeUsage
	rl.c, rl.u, rl.res, rl.sink, rl.record, rl.wd, rl.start = c, u, res, sink, record, wd, start
	defer rl.free()
	rl.ts, _ = sink.(TemplateSink)
	rd := openai.NewSSEReader(resp, g.opts.MaxEventBytes)
	defer rd.Release()
	rl.rd = rd
	var infill *infillStream // llama.cpp's native /infill stream, mapped to completion chunks
	if mode, _ := t.FIM(); c.Req.FIM() && mode == upstream.FIMInfill {
		infill = &infillStream{head: infillHead(c, g.opts.Now())}
	}
	events := 0
	for {
		ev, err := rd.Next()
		if err != nil {
			rl.release() // what arrived before the failure still goes out
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			if errors.Is(err, io.ErrUnexpectedEOF) && sctx.Err() == nil {
				ue := &upstream.Error{Upstream: u.Name(), Retryable: true, Err: ErrStreamCut}
				if events == 0 {
					// Not one event: an answer in another format, or an
					// engine that dies on this request. Compared with
					// another target like an unexplained 500.
					ue.Blame = upstream.BlameUnsure
				}
				return res, ue
			}
			if errors.Is(context.Cause(sctx), ErrStalled) {
				g.opts.Observer.Stall(u.Name())
			}
			return res, u.ReadError(sctx, err)
		}
		events++
		switch {
		case ev.Comment:
			if err := rl.release(); err != nil {
				return res, err
			}
			c.onUpstream(u.Name(), res) // a comment sends the headers too
			if err := sink.Comment(ev.Data); err != nil {
				return res, err
			}
			if err := flushIfIdle(rd, sink); err != nil {
				return res, err
			}
			continue
		case ev.Done():
			if rd.Ended() {
				// The body's end came with [DONE] (the usual case): the
				// connection is back in the pool, and the last events
				// are left for the response's end, which net/http writes
				// when the handler returns: one write, not two.
				return res, rl.finish()
			}
			err := rl.done()
			wd.drain(rd, g.opts.DrainWait)
			return res, err
		}
		chunks, last := [][]byte{ev.Data}, false
		if infill != nil {
			if chunks, last, err = infill.convert(ev.Data); err != nil {
				rl.release()
				return res, &upstream.Error{Upstream: u.Name(), Retryable: !res.Started, Blame: upstream.BlameUnsure, Err: errNotJSON}
			}
		}
		for _, p := range chunks {
			if err := rl.forward(p); err != nil {
				rl.release()
				return res, err
			}
		}
		if last { // /infill ends its stream without [DONE]
			return res, rl.done()
		}
	}
}

// relay is the state of relaying one upstream stream to a sink (see
// Gateway.relay).
type relay struct {
	st     streamState
	c      *Call
	u      *upstream.Upstream
	res    *Result
	sink   Sink
	ts     TemplateSink // sink, when it is one
	rd     *openai.SSEReader
	record func([]byte) // the cache's recording, or nil
	wd     *watchdog
	start  time.Time
}

// relays are the relays of streams that ended, reused.
var relays = sync.Pool{New: func() any { return new(relay) }}

// free gives rl back once its stream ended.
func (rl *relay) free() {
	rl.st.release()
	*rl = relay{}
	relays.Put(rl)
}

// write forwards one adapted chunk and keeps the call's bookkeeping.
// same, when set, is out's text: out is the template's chunk with another
// text, handed to a TemplateSink as such.
func (rl *relay) write(out, same []byte, text bool) error {
	rl.c.onUpstream(rl.u.Name(), rl.res) // before the first byte: headers can still carry it
	var err error
	if same != nil && rl.ts != nil {
		err = rl.ts.Same(out, same)
	} else {
		err = rl.sink.Data(out)
	}
	if err != nil {
		return err
	}
	if text {
		rl.res.deltas++ // sent: charged even if the client hangs up now
	}
	if !rl.res.Started {
		rl.res.Started, rl.res.FirstToken = true, time.Since(rl.start)
	}
	rl.wd.progress()
	return nil
}

// send is write, and a flush unless another event is already buffered.
func (rl *relay) send(out, same []byte, text bool) error {
	if err := rl.write(out, same, text); err != nil {
		return err
	}
	return flushIfIdle(rl.rd, rl.sink)
}

// recordHeld records a held finish chunk as it is at last sent, with the
// timings keepTimings moved onto it, so a replay ends as the live stream
// did; and before the usage chunk that gave them, in the order the
// upstream sent the two.
func (rl *relay) recordHeld() {
	st := &rl.st
	if rl.record != nil && st.held != nil && !st.heldRecorded {
		rl.record(st.held)
		st.heldRecorded = true
	}
}

// release sends a finish chunk held back for the timings of a usage chunk
// the client does not get (see streamState.hold).
func (rl *relay) release() error {
	held := rl.st.held
	if held == nil {
		return nil
	}
	rl.recordHeld()
	rl.st.held = nil
	return rl.send(held, nil, carriesText(held))
}

// forward adapts one upstream chunk and sends it, holding a finish chunk
// back for the timings of a usage chunk the client does not get.
func (rl *relay) forward(p []byte) error {
	st := &rl.st
	if out, tok, ok := st.match(p); ok {
		// The last text chunk with another text: it passes the checks
		// it passed, and is rewritten as it was.
		if err := rl.release(); err != nil {
			return err
		}
		if rl.record != nil {
			rl.record(out)
		}
		return rl.send(out, tok, len(tok) > 2)
	}
	out, err := st.adapt(rl.u.Name(), p, rl.res)
	if err != nil {
		return err
	}
	if out == nil {
		if rl.record != nil {
			rl.recordHeld()
			rl.record(st.adapter.adapt(p)) // the usage chunk the client did not ask for
		}
		return nil
	}
	if err := rl.release(); err != nil {
		return err
	}
	if st.hold(out) {
		return nil
	}
	if rl.record != nil {
		rl.record(out)
	}
	at, text := st.remember(p, out)
	if err := rl.send(out, nil, text); err != nil {
		return err
	}
	if at >= 0 && rl.ts != nil {
		rl.ts.Templated(out, at)
	}
	return nil
}

// finish ends the stream with [DONE], after the held finish chunk; done
// also flushes them, so both leave in one write.
func (rl *relay) finish() error {
	if held := rl.st.held; held != nil {
		rl.recordHeld()
		rl.st.held = nil
		if err := rl.write(held, nil, carriesText(held)); err != nil {
			return err
		}
	}
	return rl.sink.Data(doneData)
}

func (rl *relay) done() error {
	if err := rl.finish(); err != nil {
		return err
	}
	return flush(rl.sink)
}

// streamState adapts the chunks of one upstream stream.
type streamState struct {
	adapter     responseAdapter
	clientUsage bool // the client asked for stream_options.include_usage
	// held is a finish chunk kept back until the next event: when that is
	// the usage chunk the client did not ask for, its timings (llama.cpp
	// puts them on the last chunk) move onto the held chunk, the last the
	// client receives. It is owned, not aliasing the reader's buffer.
	held         []byte
	heldRecorded bool // held is in the cache's recording already
	// tmpl is the last chunk that carried one text and no member any check
	// looks for (see remember): most chunks of a stream are its bytes
	// around another text. From templates; nil until the first.
	tmpl *chunkTemplate
}

// chunkTemplate is a stream's template: the upstream's chunk, kept
// without the first chunk's role as well as with it
// (jsonenc.CutTemplate), and, when adapt rewrote it (a model or a
// reasoning key renamed), adapt's output for each of the two: the chunk
// as it was sent (out), and adapt's rewriting of the chunk without its
// role (outCut), which is what a chunk the cut template matches is sent as.
type chunkTemplate struct {
	in            jsonenc.CutTemplate
	out, outCut   jsonenc.Template
	rewritten     bool
	sent, scratch []byte // a matched chunk as sent; the chunk without its role
}

// templates keep the streams' templates (copies of a chunk) from stream
// to stream.
var templates = sync.Pool{New: func() any { return new(chunkTemplate) }}

// match returns the chunk to send for p and its text when p is the
// template's chunk with another text: p itself, or the template's chunk
// as sent around p's text.
func (s *streamState) match(p []byte) (out, text []byte, ok bool) {
	if s.tmpl == nil {
		return nil, nil, false
	}
	t := s.tmpl
	if text, ok = t.in.Match(p); !ok {
		return nil, nil, false
	}
	if !t.rewritten {
		return p, text, true
	}
	sent := &t.out
	if t.in.Cut() {
		sent = &t.outCut
	}
	t.sent = sent.Append(t.sent[:0], text)
	return t.sent, t.sent[sent.At() : sent.At()+len(text)], true
}

// release hands the template back once the stream is over.
func (s *streamState) release() {
	if t := s.tmpl; t != nil {
		t.in.Reset()
		t.out.Reset()
		t.outCut.Reset()
		if cap(t.sent) > 16<<10 {
			t.sent = nil
		}
		if cap(t.scratch) > 16<<10 {
			t.scratch = nil
		}
		templates.Put(t)
		s.tmpl = nil
	}
}

// remember makes p, sent as out, the stream's template when p is valid
// JSON with one text member (a string) and no member any check looks for
// (error, a usage object, a finish reason; a null usage is read as none),
// and out is p or p as adapt rewrote it, with p's one text as its one
// text (moved, when a member before it changed); else it drops the
// template. It returns where the template's text starts in
// out (-1 for no template), and whether out carries text.
//
// A chunk that is the template's bytes around another valid string reads
// as the template did but for that text (jsonenc.Template), so every check
// adapt and hold make finds what it found in the template: no error, no
// usage, no finish. The byte searches agree: inside a string each quote
// is escaped, so a member name the searches look for can only end at the
// string's closing quote, which a value's end (a comma, a brace) follows,
// never a colon. It carries text when its own text is not empty.
//
// adapt's rewrites agree too: a top-level model's value set (a walk of
// the members, which passes over any string the same way) and a reasoning
// key renamed (a byte search for the quoted key and a colon, which no
// string holds, as above) change the same bytes around another text, and
// none in it. So such a chunk is sent as out around its text.
func (s *streamState) remember(p, out []byte) (at int, text bool) {
	if s.tmpl != nil {
		s.tmpl.in.Clear()
	}
	n, start, end, text := textMembers(out)
	if n != 1 || openai.StringMemberAt(p, finishKey) >= 0 || !jsonenc.Valid(p) || usageOrError(p) {
		return -1, text // an empty chunk too: no text member
	}
	same := len(out) == len(p) && &out[0] == &p[0]
	inStart, inEnd := start, end
	if !same {
		// p's one text is out's: adapt renames a reasoning key to
		// reasoning_content, and drops no text (its new model is a
		// string) but one inside a model object, which the count finds.
		var m int
		if m, inStart, inEnd, _ = membersOf(p, upstreamTextKeys); m != 1 || !bytes.Equal(p[inStart:inEnd], out[start:end]) {
			return -1, text
		}
	}
	if s.tmpl == nil {
		s.tmpl = templates.Get().(*chunkTemplate)
	}
	t := s.tmpl
	t.rewritten = !same
	if !same {
		t.out.Set(out, start, end)
	}
	if cut0, cut1 := roleMember(p); cut1 > 0 && cut1 <= inStart && t.setCut(s.adapter, p, cut0, cut1, inStart, inEnd) {
		// No check reads the role, so the chunk without it reads as it
		// does (and is valid JSON: a member and the comma after it go).
		t.in.SetCut(p, cut0, cut1, inStart, inEnd)
		return start, text
	}
	t.in.Set(p, inStart, inEnd)
	return start, text
}

// setCut keeps adapt's rewriting of the template's chunk without
// p[cut0:cut1], when adapt rewrites it; it reports false when that
// chunk's text cannot be found (the template is then kept whole only).
// Removing the role changes no text member and no key adapt renames, so
// a review could not reach the false; it is a check, not a case.
func (t *chunkTemplate) setCut(a responseAdapter, p []byte, cut0, cut1, start, end int) bool {
	if !t.rewritten {
		return true
	}
	t.scratch = append(append(t.scratch[:0], p[:cut0]...), p[cut1:]...)
	out := a.adapt(t.scratch)
	n, s, e, _ := textMembers(out)
	if n != 1 || !bytes.Equal(out[s:e], p[start:end]) {
		return false
	}
	t.outCut.Set(out, s, e)
	return true
}

var roleKey = []byte(`"role"`)

// roleMember is where the first member named role with a string value
// starts in p (its key's quote) and where the member after it starts:
// {0, 0} when there is none, or no member follows it.
func roleMember(p []byte) (start, next int) {
	v := openai.StringMemberAt(p, roleKey)
	if v < 0 {
		return 0, 0
	}
	end, ok := jsonenc.String(p, v)
	if !ok {
		return 0, 0
	}
	i := v - 1 // back over the spaces and the colon to the key's end
	for p[i] != ':' {
		i--
	}
	for i--; p[i] != '"'; i-- {
	}
	start = i + 1 - len(roleKey)
	// A key's quote follows { or , (and spaces); the quote of a key that
	// only ends in \"role is escaped: no member of its own.
	j := start - 1
	for j >= 0 && isJSONSpace(p[j]) {
		j--
	}
	if j < 0 || p[j] != '{' && p[j] != ',' {
		return 0, 0
	}
	for end < len(p) && isJSONSpace(p[end]) {
		end++
	}
	if end == len(p) || p[end] != ',' {
		return 0, 0
	}
	for end++; end < len(p) && isJSONSpace(p[end]); end++ {
	}
	return start, end
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

var (
	finishKey  = []byte(`"finish_reason"`)
	timingsKey = []byte(`"timings"`)
)

// usageOrError reports whether p has a usage object (the only usage
// adapt reads, openai.UsageOf) or an error member, under any spelling of
// their names. adapt parses for them only when the bytes "usage" or
// "error" are in a chunk, and a chunk the template matches may bring those
// bytes in its own text: so the template's chunk is parsed for them here,
// not searched. A chunk with "usage":null, as some engines send every
// chunk (SGLang's pydantic chunks did), reads as one without, and may be
// the template.
func usageOrError(p []byte) bool {
	if bytes.IndexByte(p, '\\') < 0 && !bytes.Contains(p, usageKey) && !bytes.Contains(p, errorKey) {
		return false // no escape: every name is spelled as it reads
	}
	u := openai.Field(p, "usage")
	return len(u) > 0 && u[0] == '{' || openai.Field(p, "error") != nil
}

// hold keeps out back when it finishes a choice of a stream whose usage
// chunk the client will not get; it reports whether it did.
func (s *streamState) hold(out []byte) bool {
	if s.clientUsage || openai.StringMemberAt(out, finishKey) < 0 {
		return false
	}
	s.held, s.heldRecorded = append([]byte(nil), out...), false
	return true
}

// keepTimings moves the timings of a dropped usage chunk p onto the held
// finish chunk, unless it has timings of its own.
func (s *streamState) keepTimings(p []byte) {
	if s.held == nil || !bytes.Contains(p, timingsKey) || openai.Field(s.held, "timings") != nil {
		return
	}
	tm := openai.Field(p, "timings")
	if tm == nil {
		return
	}
	if out, err := openai.SetField(s.held, "timings", tm); err == nil {
		s.held = out
	}
}

var (
	usageKey      = []byte(`"usage"`)
	errorKey      = []byte(`"error"`)
	emptyChoices  = []byte(`"choices":[]`)
	emptyChoices2 = []byte(`"choices": []`)
)

// adapt checks and rewrites one chunk. It returns nil for a chunk the
// client must not see (the usage chunk it did not ask for).
func (s *streamState) adapt(name string, p []byte, res *Result) ([]byte, error) {
	if bytes.Contains(p, errorKey) && openai.Field(p, "error") != nil {
		api := openai.NormalizeUpstreamError(502, p)
		return nil, &upstream.Error{Upstream: name, Retryable: !res.Started, API: api, Err: errors.New(api.Message)}
	}
	if incomplete(p) {
		return nil, &upstream.Error{Upstream: name, Retryable: !res.Started, Err: errIncomplete}
	}
	if bytes.Contains(p, usageKey) {
		if u, ok := openai.UsageOf(p); ok {
			res.Usage, res.HasUsage = u, true
			if !s.clientUsage && (bytes.Contains(p, emptyChoices) || bytes.Contains(p, emptyChoices2)) {
				s.keepTimings(p)
				return nil, nil
			}
		}
	}
	return s.adapter.adapt(p), nil
}

// textKeys are the fields whose non-empty string value means a chunk
// carried generated tokens.
var textKeys = [...][]byte{[]byte(`"content"`), []byte(`"reasoning_content"`), []byte(`"text"`), []byte(`"arguments"`)}

// carriesText reports whether a chunk delivers generated text (a role-only
// or finish chunk does not). It is a byte search, cheap enough per chunk:
// one search per key, whatever the spacing around its colon.
func carriesText(p []byte) bool {
	_, _, _, text := textMembers(p)
	return text
}

// upstreamTextKeys are textKeys and "reasoning", which adapt renames for
// the engines that use it: a rewritten chunk's text members as the
// upstream wrote them. (A chunk with a "reasoning" string and another
// text, adapt renaming only its model, has two and is no template: slower,
// never wrong.)
var upstreamTextKeys = append(textKeys[:len(textKeys):len(textKeys)], []byte(`"reasoning"`))

// textMembers finds the members of textKeys with a string value: how
// many, where the last one's value is (p[start:end]), and whether any is
// not empty. A value that is not a valid string counts twice: no chunk
// with one is a template.
func textMembers(p []byte) (n, start, end int, text bool) { return membersOf(p, textKeys[:]) }

// membersOf is textMembers for the members named keys.
func membersOf(p []byte, keys [][]byte) (n, start, end int, text bool) {
	for _, k := range keys {
		for off := 0; off < len(p); {
			i := openai.StringMemberAt(p[off:], k)
			if i < 0 {
				break
			}
			i += off
			text = text || i+1 < len(p) && p[i+1] != '"'
			n, start = n+1, i
			var ok bool
			if end, ok = jsonenc.String(p, i); !ok {
				n++
			}
			off = i + 1
		}
	}
	return n, start, end, text
}

// streamFallback sends the fallback answer as a stream of the usual shape.
func streamFallback(sink Sink, c *Call, r *Route, now time.Time) error {
	head := fmt.Sprintf(`{"id":"fallback-%s","object":"chat.completion.chunk","created":%d,"model":%s,"choices":`,
		c.RequestID, now.Unix(), quote(c.Req.Model))
	chunks := []string{
		head + `[{"index":0,"delta":{"role":"assistant","content":` + string(quote(r.FallbackResponse)) + `},"logprobs":null,"finish_reason":null}]}`,
		head + `[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`,
	}
	if c.Req.IncludeUsage {
		chunks = append(chunks, head+`[],"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}`)
	}
	chunks = append(chunks, "[DONE]")
	for _, ch := range chunks {
		if err := sink.Data([]byte(ch)); err != nil {
			return err
		}
	}
	return flush(sink)
}

// flushIfIdle flushes unless another event is already waiting to be read.
func flushIfIdle(rd *openai.SSEReader, sink Sink) error {
	if rd.EventBuffered() {
		return nil
	}
	return flush(sink)
}

// watchdog guards a stream's first token and the gaps after it with one
// timer; when it fires it cancels the upstream call with the reason
// (ErrFirstToken before the first event, ErrStalled after) as the cause.
// After the first event the timer is not moved at every event (a timer
// reset per chunk, a lock and a heap fix, was a share of every stream's
// CPU): an event notes its time, and the timer, firing an idle timeout
// after the last event it knew of, waits again for what is left of the
// timeout after a later one.
type watchdog struct {
	u        *upstream.Upstream
	cancel   context.CancelCauseFunc
	timer    *time.Timer
	start    time.Time    // last counts from here (monotonic)
	last     atomic.Int64 // when the last event was sent, after start
	gotFirst atomic.Bool
	draining atomic.Bool // the timer is drain's wait, not the idle timeout
}

// newWatchdog starts the first-token timer of a call to u; the returned
// context is the call's.
func newWatchdog(ctx context.Context, u *upstream.Upstream) (context.Context, *watchdog) {
	sctx, cancel := context.WithCancelCause(ctx)
	w := &watchdog{u: u, cancel: cancel, start: time.Now()}
	w.timer = time.AfterFunc(u.FirstTokenTimeout(), w.fire)
	return sctx, w
}

// fire ends a call that waited too long, or waits for the rest of the
// idle timeout after an event sent since the timer was set.
func (w *watchdog) fire() {
	switch {
	case !w.gotFirst.Load():
		w.cancel(ErrFirstToken)
	case w.draining.Load():
		w.cancel(ErrStalled)
	default:
		idle := w.u.IdleTimeout()
		if quiet := time.Since(w.start) - time.Duration(w.last.Load()); quiet < idle {
			w.timer.Reset(idle - quiet)
			return
		}
		w.cancel(ErrStalled)
	}
}

// progress records an event sent to the client: the idle-gap timeout
// starts again.
func (w *watchdog) progress() {
	w.last.Store(int64(time.Since(w.start)))
	if !w.gotFirst.Load() {
		w.gotFirst.Store(true)
		w.timer.Reset(w.u.IdleTimeout())
	}
}

// drain reads what follows [DONE], normally only the chunked body's end
// already on its way, so the upstream connection goes back to the pool:
// a body closed unread closes its connection, and the next stream dials
// again. An upstream that keeps its response open is cut after wait.
func (w *watchdog) drain(rd *openai.SSEReader, wait time.Duration) {
	w.draining.Store(true)
	w.timer.Reset(wait)
	for range 8 {
		if _, err := rd.Next(); err != nil {
			return
		}
	}
}

// stop ends the watch and the call's context.
func (w *watchdog) stop() {
	w.timer.Stop()
	w.cancel(nil)
}
