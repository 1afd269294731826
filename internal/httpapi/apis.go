package httpapi

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/anthropic"
	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/reqscope"
	"github.com/dsgate/dsgate/internal/responses"
	"github.com/dsgate/dsgate/internal/store"
)

// The Anthropic Messages API and the OpenAI Responses API are served by
// translation: the request becomes a chat completions body
// (anthropic.ToChat, responses.ToChat), runs through the one pipeline like
// any chat completion (auth, RBAC and model allow-list, limits, cache,
// gateway, settlement), and the answer or each streamed chunk is
// translated back. A Messages call also hands the pipeline its own body
// (gateway.Native): an attempt on a deepseek target relays it untouched to
// DeepSeek's Anthropic endpoint and its answer or events come back as they
// are (Result.Native, eventSink.Event); attempts on other targets use the
// translation. The record names the API's own route; its input and output
// are the API's own bodies.

// apiShape is the wire shape of a route's errors.
type apiShape uint8

const (
	shapeOpenAI    apiShape = iota // {"error":{...}}
	shapeAnthropic                 // {"type":"error","error":{...}}
)

// shapeOf is the error shape of the API that serves path, for an error
// rendered before or outside the route adapter (a capacity refusal, a
// recovered panic): Anthropic's for the Messages API's paths, under
// /anthropic (the base URL Anthropic clients are given) too.
func shapeOf(path string) apiShape {
	if strings.HasPrefix(path, "/v1/messages") || strings.HasPrefix(path, "/anthropic/") {
		return shapeAnthropic
	}
	return shapeOpenAI
}

// toOpenAI turns the translators' Anthropic-shaped error into the
// pipeline's error type, keeping its status and message.
func toOpenAI(err error) error {
	if err == nil {
		return nil // (errors.As's target is on the heap: not for nothing)
	}
	var ae *anthropic.Error
	if errors.As(err, &ae) {
		return &openai.Error{Status: ae.Status, Type: ae.Type, Message: ae.Message, Err: err}
	}
	return err
}

// chatCall runs a translated chat completions body through the pipeline
// for p, as the inference handler does for a chat completion. sink may be
// nil for a call that does not stream; native, when set, is the client's
// own request, which the gateway relays untouched to upstreams that serve
// its API.
func (h *handlers) chatCall(w http.ResponseWriter, r *http.Request, p *auth.Principal, chat []byte, parsed openai.Parsed, sink gateway.Sink, native *gateway.Native) (*gateway.Result, error) {
	c := newCall(w, r, p, openai.EndpointChat, chat, sink)
	c.Parsed, c.Native = parsed, native
	res, err := h.pl.Run(r.Context(), &c)
	return res, apierror.WithCause(r.Context(), err)
}

// nativeMessages is a Messages request as the gateway relays it to
// DeepSeek's Anthropic endpoint, with the readers of its usage.
func nativeMessages(body []byte) *gateway.Native {
	return &gateway.Native{Endpoint: openai.EndpointMessages, Body: body,
		Usage: anthropic.UsageOf, EventUsage: anthropic.UsageFromEvent}
}

// eventSink translates the pipeline's chat completion chunks into an API's
// named SSE events, written through the request's sseSink.
type eventSink struct {
	out   *sseSink
	chunk chunkTranslator
	emit  func(event string, data []byte) error
	// before, when set, sees each event before it is written.
	before func(event string, data []byte)
	// relayed is set once an event of a relayed stream was written.
	relayed bool
	// The event Begin started, and where its data starts.
	event  string
	dataAt int
}

// chunkTranslator is a stream translator (anthropic.Stream,
// responses.Stream) as the sink feeds it.
type chunkTranslator interface {
	Chunk(chunk []byte, emit func(event string, data []byte) error) error
	// Flush emits what the translator holds back (the text of the chunks
	// since the last flush, as one delta).
	Flush(emit func(event string, data []byte) error) error
	// Finish ends the translated stream; a second call does nothing.
	Finish(emit func(event string, data []byte) error) error
	// Templated and Same are gateway.TemplateSink's.
	Templated(chunk []byte, at int)
	Same(chunk, text []byte, emit func(event string, data []byte) error) error
}

func newEventSink(w http.ResponseWriter, digest bool) *eventSink {
	s := &eventSink{out: sinkFor(w)}
	s.out.digest = digest
	s.emit = s.write
	return s
}

func (s *eventSink) write(event string, data []byte) error {
	if s.before != nil {
		s.before(event, data)
	}
	return s.out.named(event, data)
}

// Data translates one chunk; [DONE] is the translator's Finish, so the
// last events leave with the flush that follows [DONE], not after the
// gateway is done with the upstream (it may wait for the end of the
// upstream's body to reuse the connection). The handler calls Finish
// again once the pipeline returns, for a stream that ended otherwise.
func (s *eventSink) Data(p []byte) error {
	if bytes.Equal(p, doneData) {
		return s.chunk.Finish(s.emit)
	}
	return s.chunk.Chunk(p, s.emit)
}

// Begin and End build a translator's delta event in the sink's event
// buffer (chatwire.EventBuffer), as named writes an event given whole.
func (s *eventSink) Begin(event string) []byte {
	s.out.start()
	b := append(s.out.eventBuf(), "event: "...)
	b = append(b, event...)
	b = append(b, "\ndata: "...)
	s.event, s.dataAt = event, len(b)
	return b
}

func (s *eventSink) End(b []byte) error {
	n := len(b) - s.dataAt
	if s.before != nil {
		s.before(s.event, b[s.dataAt:])
	}
	return s.out.write(s.out.hashLast(append(b, '\n', '\n'), n))
}

// Templated and Same hand the gateway relay's reading of a chunk to the
// translator (gateway.TemplateSink), which then need not read the chunks
// the relay's template matched again.
func (s *eventSink) Templated(p []byte, at int) { s.chunk.Templated(p, at) }

func (s *eventSink) Same(p, text []byte) error { return s.chunk.Same(p, text, s.emit) }

func (s *eventSink) Comment(line []byte) error {
	if err := s.chunk.Flush(s.emit); err != nil {
		return err
	}
	return s.out.Comment(line)
}

// Event writes an event of a relayed stream as it came; the translator
// is not involved (gateway.EventSink).
func (s *eventSink) Event(name string, data []byte) error {
	s.relayed = true
	return s.emit(name, data)
}

// Flush sends the buffered events; nothing before the stream started, so
// an error can still get its own status.
func (s *eventSink) Flush() error {
	if !s.out.started {
		return nil
	}
	if err := s.chunk.Flush(s.emit); err != nil {
		return err
	}
	return s.out.Flush()
}

var doneData = []byte("[DONE]")

// named writes one named event ("event: name\ndata: ...\n\n") in one
// write. (Writing the data without copying it, in three writes, measured
// the same with bench/apis; one write is the simpler.)
func (s *sseSink) named(event string, data []byte) error {
	s.start()
	return s.write(s.hashLast(chatwire.AppendEvent(s.eventBuf(), event, data), len(data)))
}

// finishRecord puts the API's own request and answer in the record.
func finishRecord(r *http.Request, body, out []byte, sink *sseSink) {
	s := reqscope.From(r.Context())
	s.Input = body
	if out != nil {
		s.Output = out
	}
	if sink != nil && sink.hash != nil {
		s.OutputSHA256 = hex.EncodeToString(sink.hash.Sum(nil))
	}
}

// messages serves POST /v1/messages: the Anthropic Messages API. A
// deepseek target gets the request untouched (DeepSeek serves the API
// itself); any other target gets its chat translation, and the answer is
// translated back.
func (h *handlers) messages(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	body, err := readRequestBody(r, h.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	chat, info, err := anthropic.ToChat(body)
	if err != nil {
		return toOpenAI(err)
	}
	if !info.Stream {
		return h.messagesComplete(w, r, p, body, chat, info)
	}
	sink := newEventSink(w, h.opts.Audit != nil)
	st := anthropic.NewStream(info)
	defer st.Release()
	sink.chunk = st
	st.SetBuffer(sink)
	_, err = h.chatCall(w, r, p, chat, info.Chat, sink, nativeMessages(body))
	if err == nil && !sink.relayed {
		err = toOpenAI(st.Finish(sink.emit))
	}
	if err != nil && sink.out.started {
		ae := pipeline.Fail(reqscope.From(r.Context()), err)
		if ae.Status != StatusClientClosed {
			st.Fail(anthropic.FromOpenAIError(ae), sink.emit)
			sink.Flush()
		}
		err = nil
	}
	finishRecord(r, body, nil, sink.out)
	return err
}

// messagesComplete answers a Messages request that does not stream.
func (h *handlers) messagesComplete(w http.ResponseWriter, r *http.Request, p *auth.Principal, body, chat []byte, info anthropic.RequestInfo) error {
	res, err := h.chatCall(w, r, p, chat, info.Chat, nil, nativeMessages(body))
	if err != nil {
		finishRecord(r, body, nil, nil)
		return err
	}
	out := res.Body
	if !res.Native {
		sink := sinkFor(w)
		if out, err = anthropic.AppendFromChat(sink.answerBuf(), res.Body, info); err != nil {
			return toOpenAI(err)
		}
		sink.hold(out)
	}
	finishRecord(r, body, out, nil)
	writeAnswer(w, res, out)
	sendNow(w, r)
	return nil
}

// countTokens serves POST /v1/messages/count_tokens: an estimate, no
// upstream call, for a model the caller may use.
func (h *handlers) countTokens(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	body, err := readRequestBody(r, h.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	out, err := anthropic.CountTokens(body)
	if err != nil {
		return toOpenAI(err)
	}
	v, _ := field(body, "model")
	model, _ := chatwire.Unquote(v)
	reqscope.From(r.Context()).Model = model
	if err := h.opts.Access.Authorize(p, auth.ResourceTextGeneration, auth.ActionRead, model); err != nil {
		return err
	}
	if !h.opts.Gateway().Serves(model) { // as /v1/messages answers it
		return gateway.ModelNotFound(model)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
	return nil
}

// renderAnthropic writes ae in Anthropic's error shape: the JSON envelope,
// or an error event once a stream has begun.
func renderAnthropic(w http.ResponseWriter, r *http.Request, ae *openai.Error, sw *statusWriter) {
	e := anthropic.FromOpenAIError(ae)
	id := reqscope.From(r.Context()).RequestID
	if sw != nil && sw.wroteHeader {
		if sw.Header().Get("Content-Type") == "text/event-stream" {
			sw.sse.named("error", e.JSONWithRequestID(id))
			sw.sse.Flush()
		}
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	if e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusConflict || e.Status == http.StatusRequestTimeout {
		h.Set("X-Should-Retry", "true")
	}
	w.WriteHeader(e.Status)
	w.Write(e.JSONWithRequestID(id))
}

// background is the context of a store write that must outlive a client
// that hung up once its answer was sent.
func background(r *http.Request) context.Context {
	return context.WithoutCancel(r.Context())
}

// createResponse serves POST /v1/responses: the OpenAI Responses API. A
// request naming previous_response_id is completed with the stored
// conversation first; an answer asked to be stored (store, on by default)
// is kept for its principal when the gateway has a store.
func (h *handlers) createResponse(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	body, err := readRequestBody(r, h.opts.MaxBodyBytes)
	if err != nil {
		return err
	}
	full, chat, info, err := h.responseRequest(r.Context(), p, body)
	if err != nil {
		return err
	}
	keep := info.Store && h.opts.Responses != nil
	info.Store = keep
	info.ID = responses.NewID() // never the upstream's chat id: that one may repeat
	if !info.Stream {
		res, err := h.chatCall(w, r, p, chat, info.Chat, nil, nil)
		if err != nil {
			finishRecord(r, body, nil, nil)
			return err
		}
		sink := sinkFor(w)
		out, err := responses.AppendFromChat(sink.answerBuf(), res.Body, info)
		if err != nil {
			return err
		}
		sink.hold(out)
		if keep {
			// A store that fails loses the stored copy, not the answer:
			// the call is charged, and a 500 would have the client
			// retry (and pay) again. The stream does the same.
			h.keepResponse(r, p, info.Model, full, out)
		}
		finishRecord(r, body, out, nil)
		writeAnswer(w, res, out)
		sendNow(w, r)
		return nil
	}
	return h.streamResponse(w, r, p, body, full, chat, info)
}

// streamResponse is createResponse for a streamed response. (A function
// of its own, and its closure holding the model only: a RequestInfo a
// closure holds is on the heap, 344 bytes a request.)
func (h *handlers) streamResponse(w http.ResponseWriter, r *http.Request, p *auth.Principal, body, full, chat []byte, info responses.RequestInfo) error {
	keep, model := info.Store, info.Model
	sink := newEventSink(w, h.opts.Audit != nil)
	st := responses.NewStream(info)
	defer st.Release()
	sink.chunk = st
	st.SetBuffer(sink)
	if keep {
		// Stored before the client learns the response is complete, so
		// its next request can name it at once.
		sink.before = func(event string, data []byte) {
			// A response cut at max_output_tokens ends with
			// response.incomplete and is stored as the non-streamed one
			// is.
			if event != "response.completed" && event != "response.incomplete" {
				return
			}
			if resp, ok := field(data, "response"); ok {
				h.keepResponse(r, p, model, full, resp)
			}
		}
	}
	_, err := h.chatCall(w, r, p, chat, info.Chat, sink, nil)
	if err == nil {
		err = st.Finish(sink.emit)
	}
	if err != nil && sink.out.started {
		ae := pipeline.Fail(reqscope.From(r.Context()), err)
		if ae.Status != StatusClientClosed {
			st.Fail(ae, sink.emit)
			sink.Flush()
		}
		err = nil
	}
	finishRecord(r, body, nil, sink.out)
	return err
}

// responseRequest resolves previous_response_id (the stored conversation
// spliced before the input) and translates the request. full is the
// complete stateless request.
func (h *handlers) responseRequest(ctx context.Context, p *auth.Principal, body []byte) (full, chat []byte, info responses.RequestInfo, err error) {
	chat, info, err = responses.ToChat(body)
	if err != nil || info.PreviousResponseID == "" {
		return body, chat, info, err
	}
	prev := info.PreviousResponseID
	history, err := h.history(ctx, p, prev)
	if err != nil {
		return nil, nil, info, err
	}
	if full, err = responses.WithHistory(body, history); err != nil {
		return nil, nil, info, err
	}
	// The complete request is held, translated, sent and stored like a
	// body: it has the body's limit (or a chain of turns, each under it,
	// would grow without bound in memory and in the store).
	if limit := h.opts.MaxBodyBytes; limit > 0 && int64(len(full)) > limit {
		return nil, nil, info, openai.NewError(http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the conversation with previous_response_id %s exceeds the request body limit of %d bytes", prev, limit), "request_too_large")
	}
	if chat, info, err = responses.ToChat(full); err != nil {
		return nil, nil, info, err
	}
	info.PreviousResponseID = prev
	return full, chat, info, nil
}

// history is the stored conversation up to and including response id:
// its input items (earlier history included) and its output items.
func (h *handlers) history(ctx context.Context, p *auth.Principal, id string) ([]byte, error) {
	sr, err := h.storedResponse(ctx, p, id, "previous_response_id")
	if err != nil {
		return nil, err
	}
	out, err := responses.OutputItems(sr.Response)
	if err != nil {
		return nil, err
	}
	in := chatwire.Trim(sr.Input)
	out = chatwire.Trim(out)
	b := make([]byte, 0, len(in)+len(out)+1)
	b = append(b, in[:len(in)-1]...)
	if len(chatwire.Trim(in[1:len(in)-1])) > 0 && len(chatwire.Trim(out[1:len(out)-1])) > 0 {
		b = append(b, ',')
	}
	return append(b, out[1:]...), nil
}

// storedResponse reads p's response id; one that does not exist, or is
// another principal's, is a 404 alike.
func (h *handlers) storedResponse(ctx context.Context, p *auth.Principal, id, param string) (store.StoredResponse, error) {
	if h.opts.Responses == nil {
		return store.StoredResponse{}, &openai.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: param,
			Code: "feature_disabled", Message: "stored responses are off: configure a store (store.driver) to use " + param}
	}
	sr, err := h.opts.Responses.Response(ctx, p.LimitKey(), id)
	if errors.Is(err, store.ErrNotFound) {
		return sr, &openai.Error{Status: http.StatusNotFound, Type: "invalid_request_error", Param: param,
			Code: "not_found", Message: "Response with id '" + id + "' not found.", Err: err}
	}
	return sr, err
}

// keepResponse stores resp as storeResponse does and logs a failure: the
// answer goes to the client either way.
func (h *handlers) keepResponse(r *http.Request, p *auth.Principal, model string, full, resp []byte) {
	if err := h.storeResponse(r, p, model, full, resp); err != nil {
		h.opts.Logger.Warn("storing response", keyRequestID, reqscope.From(r.Context()).RequestID, "err", err)
	}
}

// storeResponse keeps a response with its complete input for p.
func (h *handlers) storeResponse(r *http.Request, p *auth.Principal, model string, full, resp []byte) error {
	id, ok := field(resp, "id")
	if !ok {
		return errors.New("response without an id")
	}
	sid, _ := chatwire.Unquote(id)
	input, err := responses.InputItems(full)
	if err != nil {
		return err
	}
	return h.opts.Responses.PutResponse(background(r), store.StoredResponse{ID: sid, Owner: p.LimitKey(), Model: model,
		Input: input, Response: bytes.Clone(resp), CreatedAt: time.Now()})
}

// getResponse serves GET /v1/responses/{id}.
func (h *handlers) getResponse(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	sr, err := h.storedResponse(r.Context(), p, r.PathValue("id"), "response_id")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(sr.Response)
	return nil
}

// inputItems serves GET /v1/responses/{id}/input_items: the stored input
// (history included), newest first unless order=asc, in one page.
func (h *handlers) inputItems(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	sr, err := h.storedResponse(r.Context(), p, r.PathValue("id"), "response_id")
	if err != nil {
		return err
	}
	var items [][]byte
	if err := chatwire.Array(chatwire.Trim(sr.Input), func(_ int, v []byte) error {
		items = append(items, v)
		return nil
	}); err != nil {
		return err
	}
	if r.URL.Query().Get("order") != "asc" {
		slices.Reverse(items)
	}
	b := append(make([]byte, 0, len(sr.Input)+64), `{"object":"list","data":[`...)
	b = append(b, bytes.Join(items, []byte{','})...)
	b = append(b, `],"first_id":null,"last_id":null,"has_more":false}`...)
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
	return nil
}

// deleteResponse serves DELETE /v1/responses/{id}.
func (h *handlers) deleteResponse(r *http.Request, p *auth.Principal) (any, error) {
	id := r.PathValue("id")
	if _, err := h.storedResponse(r.Context(), p, id, "response_id"); err != nil {
		return nil, err
	}
	if err := h.opts.Responses.DeleteResponse(r.Context(), p.LimitKey(), id); err != nil {
		return nil, err
	}
	return map[string]any{"id": id, "object": "response", "deleted": true}, nil
}

// field returns the raw value of obj's top-level key.
func field(obj []byte, key string) ([]byte, bool) {
	var v []byte
	_ = chatwire.Object(chatwire.Trim(obj), func(k, val []byte) error {
		if string(k) == key {
			v = val
		}
		return nil
	})
	return v, v != nil
}

// apiRoutes registers the Anthropic Messages API (also under /anthropic,
// the base URL Anthropic clients are given) and the Responses API.
func (h *handlers) apiRoutes(mux *http.ServeMux) {
	gen := perm{resource: auth.ResourceTextGeneration, action: auth.ActionRead}
	anth := gen
	anth.shape = shapeAnthropic
	for _, prefix := range []string{"", "/anthropic"} {
		p := prefix + "/v1/messages"
		mux.Handle(p, h.route(http.MethodPost, p, anth, h.messages))
		mux.Handle(p+"/count_tokens", h.route(http.MethodPost, p+"/count_tokens", anth, h.countTokens))
	}
	mux.Handle("POST /v1/responses", h.route(http.MethodPost, "/v1/responses", gen, h.createResponse))
	mux.Handle("GET /v1/responses/{id}", h.route(http.MethodGet, "/v1/responses/{id}", gen, h.getResponse))
	mux.Handle("GET /v1/responses/{id}/input_items", h.route(http.MethodGet, "/v1/responses/{id}/input_items", gen, h.inputItems))
	mux.Handle("DELETE /v1/responses/{id}", h.route(http.MethodDelete, "/v1/responses/{id}",
		perm{resource: auth.ResourceTextGeneration, action: auth.ActionRead}, jsonResult(h.deleteResponse)))
}
