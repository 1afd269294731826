package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/reqscope"
)

type handlers struct {
	opts  Options
	pl    *pipeline.Pipeline
	perms *permissions
}

// inference serves one of the model-calling endpoints: it reads the body
// and hands it to the pipeline, which runs the whole sequence (parse,
// model allow-list, admission, gateway, settlement, record). A
// non-streaming answer is written here; a stream is written by the sink
// as it comes. An error goes back to the route adapter, which renders it.
// newCall is the pipeline call of an inference request through any API:
// the request's priority and cache headers in, and the answer's headers
// (X-Dsgate-Upstream or X-Dsgate-Fallback before a stream's first byte,
// X-Dsgate-Cache) out.
func newCall(w http.ResponseWriter, r *http.Request, p *auth.Principal, e openai.Endpoint, body []byte, sink gateway.Sink) pipeline.Call {
	return pipeline.Call{Endpoint: e, Body: body, Principal: p, Sink: sink,
		HighPriority: r.Header.Get("X-Dsgate-Priority") == "high",
		CacheControl: strings.Join(r.Header.Values("Cache-Control"), ","), // every line counts (RFC 9110 5.3): a no-store on a second one too
		Header:       w.Header()}
}

func (h *handlers) inference(e openai.Endpoint) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		body, err := readRequestBody(r, h.opts.MaxBodyBytes)
		if err != nil {
			return err
		}
		sink := sinkFor(w)
		if h.opts.Audit != nil {
			sink.digest = true
		}
		c := newCall(w, r, p, e, body, sink)
		res, err := h.pl.Run(r.Context(), &c)
		// A call cut by shutdown says so (503 shutting_down, an SSE
		// error event mid-stream), not that the client left.
		err = apierror.WithCause(r.Context(), err)
		if sink.hash != nil {
			reqscope.From(r.Context()).OutputSHA256 = hex.EncodeToString(sink.hash.Sum(nil))
		}
		if err != nil || sink.started {
			return err
		}
		writeAnswer(w, res, res.Body)
		sendNow(w, r)
		return nil
	}
}

// sendNow sends a whole answer, written with its Content-Length, at once
// instead of when the handler returns: the work after it (frame's
// metrics, audit record and access line, net/http's end of the request)
// then follows the answer instead of delaying it, and a client's next
// request on the connection can arrive while it runs. Only on HTTP/1: on
// HTTP/2 an early flush costs an extra frame to end the stream. The
// concurrency limits are settled before the answer is written (the
// pipeline's deferred settlement); the connection capacity's place is
// held until the handler returns, as the goroutine and its buffers are.
func sendNow(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 1 {
		http.NewResponseController(w).Flush()
	}
}

// writeAnswer writes a non-streaming answer: body, the gateway's or its
// translation into the client's API, with the headers of res.
func writeAnswer(w http.ResponseWriter, res *gateway.Result, body []byte) {
	hd := w.Header()
	length := strconv.Itoa(len(body))
	switch {
	case res.Fallback:
		setHeaders(hd, "Content-Type", "application/json", "Content-Length", length, "X-Dsgate-Fallback", "true")
	case res.Upstream != "": // a cache hit has none: X-Dsgate-Cache says where it came from
		setHeaders(hd, "Content-Type", "application/json", "Content-Length", length, "X-Dsgate-Upstream", res.Upstream)
	default:
		setHeaders(hd, "Content-Type", "application/json", "Content-Length", length)
	}
	w.Write(body)
}

// readRequestBody reads the whole body into one buffer sized from
// Content-Length when the client sent it, and closes it. The body reader
// is already capped at limit (see frame); a declared length over it
// fails at once.
func readRequestBody(r *http.Request, limit int64) ([]byte, error) {
	var body []byte
	var err error
	if n := r.ContentLength; limit > 0 && n > limit {
		return nil, tooLarge(limit)
	} else if n > 0 {
		body = make([]byte, n)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(r.Body)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		var ae *openai.Error
		switch {
		case errors.As(err, &mbe):
			return nil, tooLarge(mbe.Limit)
		case errors.As(err, &ae):
			return nil, ae
		}
		return nil, openai.InvalidRequest("", "reading request body: "+err.Error())
	}
	// Read whole, it is closed: net/http otherwise reads a body left open
	// once more as the answer's head is written, for its end (an io.CopyN
	// that finds nothing, two allocations a request: issue 22).
	r.Body.Close()
	return body, nil
}

// sseSink writes a stream to the client. With digest set it also hashes
// every data payload, each followed by "\n", for the audit record. It
// lives inside the request's statusWriter, so a request costs no sink
// allocation, and starts the event stream only at its first event.
type sseSink struct {
	w       http.ResponseWriter
	started bool
	// headed is set once net/http has written the response's head (see
	// headApart).
	headed bool
	digest bool
	hash   hash.Hash
	buf    *[]byte // the event buffer, from eventBufs, held from an event to the next flush
	// The write or flush headApart runs on a goroutine of its own, and
	// what it ended with.
	apart      sync.WaitGroup
	apartFlush bool
	apartErr   error
	apartPanic *pipeline.PanicError
}

// eventBufs are where events are built before they are written. A sink
// takes one for the events it writes between two flushes and gives it back
// at the flush (the gateway flushes when it would wait for the upstream),
// so an open stream holds none while it waits (one held for a stream's
// life was 2 KiB of an idle stream's 63 KB), and a buffer is not grown anew
// per stream (that was a tenth of a translated stream's garbage).
var eventBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// eventBuf is the sink's event buffer, holding the events not written
// yet: an event is appended to it, and the events written between two
// flushes leave in one write at the flush (a write of the response writer
// per event was some 0.2 µs each, and its 2 KiB buffer framed a burst in
// chunks of that size).
func (s *sseSink) eventBuf() []byte {
	if s.buf == nil {
		s.buf = eventBufs.Get().(*[]byte)
	}
	return *s.buf
}

// answerBuf is the event buffer, emptied, for a whole answer built there
// (a translated non-streaming answer: no events come before it).
func (s *sseSink) answerBuf() []byte { return s.eventBuf()[:0] }

// heldEvents is how much a sink holds back before a flush: past it the
// events are written at once (a long burst of events is not gathered whole).
const heldEvents = 16 << 10

// hold keeps b, built in the buffer eventBuf gave, as that buffer. A
// translated non-streaming answer is built there too (the event buffer has
// no other use in such an answer): given back when the frame is done with
// the request, after the audit record has copied the answer, it is no
// garbage of its own (it was a third of a Responses answer's).
func (s *sseSink) hold(b []byte) {
	if s.buf != nil && b != nil {
		*s.buf = b[:0] // no events held: the answer's bytes stay as they are until the release
	}
}

// write takes the events built in the sink's event buffer (eventBuf's,
// with the new event appended): they are written at the next flush, or
// now when they are over heldEvents.
func (s *sseSink) write(events []byte) error {
	*s.buf = events // keeps the buffer if the event grew it
	if len(events) < heldEvents {
		return nil
	}
	return s.writeOut()
}

// writeOut writes the events held in the event buffer.
func (s *sseSink) writeOut() error {
	if s.buf == nil || len(*s.buf) == 0 {
		return nil
	}
	var err error
	if !s.headed && s.started && len(*s.buf) >= netHTTPBuffer {
		err = s.headApart(false)
	} else {
		_, err = s.w.Write(*s.buf)
	}
	*s.buf = (*s.buf)[:0]
	return err
}

// netHTTPBuffer is how much net/http holds of an answer before it writes
// the head (its bufferBeforeChunkingSize): a smaller first write of a
// stream is only buffered.
const netHTTPBuffer = 2048

// headApart runs the first write or flush of a stream that makes net/http
// write the response's head on a goroutine of its own (runApart), and
// waits for it. That writing is deep (chunkWriter.writeHeader's frame
// alone is 2.8 KiB, then the header's sort) and it comes from deep in the
// relay: on the stream's own goroutine it would grow the stack to 16 KiB,
// which it then keeps for the stream's whole life, for the one write. With
// the head written apart, a stream's goroutine stays within 8 KiB (issue
// 22: 8 KiB of every open stream; TestStreamStack). The stream's
// goroutine waits, so the response writer is still used by one goroutine
// at a time; a panic there is raised again here, with the stack where it
// happened, and the frame recovers it. flush: the held events and a flush
// (flushOut), else a write of the held events.
func (s *sseSink) headApart(flush bool) error {
	s.headed, s.apartFlush = true, flush
	s.apart.Add(1)
	go s.runApart()
	s.apart.Wait()
	if p := s.apartPanic; p != nil {
		s.apartPanic = nil
		panic(p) // with the stack where it happened, which the frame logs (pipeline.Recovered)
	}
	err := s.apartErr
	s.apartErr = nil
	return err
}

func (s *sseSink) runApart() {
	defer func() {
		if p := recover(); p != nil {
			s.apartPanic = &pipeline.PanicError{Value: p, Stack: debug.Stack()}
		}
		s.apart.Done()
	}()
	if s.apartFlush {
		s.apartErr = s.flushOut()
		return
	}
	_, s.apartErr = s.w.Write(*s.buf)
}

// release gives the event buffer back: at a flush, and when the frame is
// done with the request (after end).
func (s *sseSink) release() {
	if s.buf == nil {
		return
	}
	if cap(*s.buf) <= 64<<10 { // one grown by a huge event is left to the GC
		*s.buf = (*s.buf)[:0]
		eventBufs.Put(s.buf)
	}
	s.buf = nil
}

// sinkFor returns the request's sink: the statusWriter's own, or a new
// one for a writer the frame did not wrap.
func sinkFor(w http.ResponseWriter) *sseSink {
	if sw, ok := w.(*statusWriter); ok {
		return &sw.sse
	}
	return &sseSink{w: w}
}

func (s *sseSink) start() {
	if s.started {
		return
	}
	s.started = true
	if s.digest {
		s.hash = sha256.New()
	}
	h := s.w.Header()
	h["Content-Type"] = eventStreamType
	h["Cache-Control"] = noCache
	h["X-Accel-Buffering"] = noBuffering // tell nginx in front not to buffer
	if sw, ok := s.w.(*statusWriter); ok {
		sw.commit(http.StatusOK) // handed to net/http with the head (headApart)
		return
	}
	s.w.WriteHeader(http.StatusOK)
}

// The header values of an event stream, set without Header.Set's
// canonicalisation of the key and its new slice (some 2,000 instructions
// and three allocations a stream). Shared by every stream: net/http only
// reads them, and a slice whose capacity is its length is copied, not
// written into, by an Add.
var (
	eventStreamType = []string{"text/event-stream"}
	noCache         = []string{"no-cache"}
	noBuffering     = []string{"no"}
)

func (s *sseSink) Data(p []byte) error {
	s.start()
	return s.write(s.hashLast(openai.AppendEvent(s.eventBuf(), p), len(p)))
}

// hashLast adds the data of the event that ends events (its last n bytes
// before the "\n\n" that ends every event) to the stream's digest, with
// the newline after it: the digest's form of an event, hashed in one
// write from the event's bytes.
func (s *sseSink) hashLast(events []byte, n int) []byte {
	if s.hash != nil {
		s.hash.Write(events[len(events)-n-2 : len(events)-1])
	}
	return events
}

func (s *sseSink) Comment(line []byte) error {
	s.start()
	return s.write(append(append(s.eventBuf(), line...), '\n', '\n'))
}

// Flush sends the held events, in one write of the response writer and
// one of the connection when they fit its buffer.
func (s *sseSink) Flush() error {
	if !s.headed && s.started {
		return s.headApart(true)
	}
	return s.flushOut()
}

func (s *sseSink) flushOut() error {
	err := s.writeOut()
	s.release()
	if err != nil {
		return err
	}
	if f, ok := s.w.(interface{ FlushError() error }); ok {
		return f.FlushError()
	}
	return http.NewResponseController(s.w).Flush()
}

// event ends a started stream with an error event the SDKs raise on.
func (s *sseSink) event(payload []byte) {
	if !s.started {
		return
	}
	s.write(openai.AppendEvent(s.eventBuf(), payload))
	s.Flush()
}

// end writes the events still held when the handler is done: a stream
// that ended with [DONE] is flushed with the response's end (see
// gateway.FlushSink), its last events with it.
func (s *sseSink) end() {
	s.writeOut()
}

type modelList struct {
	Object string          `json:"object"`
	Data   []gateway.Model `json:"data"`
}

// models lists the models the caller may use.
func (h *handlers) models(r *http.Request, p *auth.Principal) (any, error) {
	all := h.opts.Gateway().Models()
	mine := all[:0]
	for _, m := range all {
		if h.opts.Access.Authorize(p, auth.ResourceModels, auth.ActionRead, m.ID) == nil {
			mine = append(mine, m)
		}
	}
	return modelList{Object: "list", Data: mine}, nil
}

// model describes one model; one the caller may not use does not exist
// for it.
func (h *handlers) model(r *http.Request, p *auth.Principal) (any, error) {
	id := r.PathValue("id")
	m, ok := h.opts.Gateway().Model(id)
	if !ok || h.opts.Access.Authorize(p, auth.ResourceModels, auth.ActionRead, id) != nil {
		return nil, &openai.Error{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model",
			Code: "model_not_found", Message: "The model `" + clipPath(id) + "` does not exist or you do not have access to it."}
	}
	return m, nil
}

// upstreams shows every upstream's health, breaker, load and last error.
// It names upstreams by their config name, never by address.
func (h *handlers) upstreams(*http.Request, *auth.Principal) (any, error) {
	return map[string]any{"object": "list", "data": h.opts.Gateway().Upstreams()}, nil
}

func (h *handlers) healthz(*http.Request, *auth.Principal) (any, error) {
	return map[string]string{"status": "ok"}, nil
}

func (h *handlers) readyz(w http.ResponseWriter, _ *http.Request, _ *auth.Principal) error {
	if !h.opts.Gateway().Ready() {
		return writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no upstream available"})
	}
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
	return nil
}
