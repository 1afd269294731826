package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"

	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/reqscope"
)

type handlers struct{ opts Options }

// inference serves one of the model-calling endpoints: read and validate
// the body, check the model allow-list, admit the call under the caller's
// limits, run it, settle the limits with the real usage.
func (h *handlers) inference(e openai.Endpoint, resource string) authedFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		ctx := r.Context()
		s := reqscope.From(ctx)
		body, err := readRequestBody(r, h.opts.MaxBodyBytes)
		if err != nil {
			h.fail(w, s, err)
			return
		}
		req, err := openai.Parse(e, body)
		if err != nil {
			h.fail(w, s, err)
			return
		}
		s.Model, s.Stream, s.Input = req.Model, req.Stream, body
		if err := h.opts.Access.Authorize(p, resource, auth.ActionRead, req.Model); err != nil {
			h.fail(w, s, err)
			return
		}
		grant, err := h.opts.Access.Admit(ctx, p, req)
		if err != nil {
			h.fail(w, s, err)
			return
		}
		grant.WriteHeaders(w.Header())
		call := &gateway.Call{Req: req, Body: body, RequestID: s.RequestID, HighPriority: h.highPriority(r, p),
			CacheControl: r.Header.Get("Cache-Control"), CacheScope: p.LimitKey(),
			OnCache: func(result, tier string) {
				w.Header().Set("X-Dsgate-Cache", result)
				if tier != "" {
					w.Header().Set("X-Dsgate-Cache-Tier", tier)
				}
			}}
		gw := h.opts.Gateway()
		var res *gateway.Result
		if req.Stream {
			res = h.stream(w, r, gw, call, s)
		} else {
			res = h.complete(w, r, gw, call, s)
		}
		grant.Done(ctx, res.Usage, res.Cache == gateway.CacheHit)
	}
}

func (h *handlers) complete(w http.ResponseWriter, r *http.Request, gw *gateway.Gateway, call *gateway.Call, s *reqscope.Scope) *gateway.Result {
	res, err := gw.Complete(r.Context(), call)
	if err != nil {
		err = apierror.WithCause(r.Context(), err)
		h.fail(w, s, err)
		return &gateway.Result{}
	}
	record(s, res)
	s.Output = res.Body
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(res.Body)))
	if res.Fallback {
		hd.Set("X-Dsgate-Fallback", "true")
	} else {
		hd.Set("X-Dsgate-Upstream", res.Upstream)
	}
	w.Write(res.Body)
	return res
}

func (h *handlers) stream(w http.ResponseWriter, r *http.Request, gw *gateway.Gateway, call *gateway.Call, s *reqscope.Scope) *gateway.Result {
	sink := &sseSink{w: w, rc: http.NewResponseController(w)}
	if h.opts.Audit != nil {
		sink.hash = sha256.New()
	}
	res, err := gw.Stream(r.Context(), call, sink)
	err = apierror.WithCause(r.Context(), err)
	record(s, res)
	if sink.hash != nil {
		s.OutputSHA256 = hex.EncodeToString(sink.hash.Sum(nil))
	}
	if err == nil {
		return res
	}
	if !sink.started {
		h.fail(w, s, err)
		return res
	}
	// Headers are gone: the error travels as an event the SDKs raise on.
	ae := apiError(err)
	s.Err, s.ErrorType = err, ae.Type
	if ae.Status != StatusClientClosed {
		sink.Data(ae.JSON())
		sink.Flush()
	}
	return res
}

func record(s *reqscope.Scope, res *gateway.Result) {
	s.Upstream, s.Attempts, s.FirstToken = res.Upstream, res.Attempts, res.FirstToken
	s.CacheResult, s.CacheTier = res.Cache, res.CacheTier
	if res.HasUsage {
		s.PromptTokens = res.Usage.PromptTokens
		s.CompletionTokens = res.Usage.CompletionTokens
		s.CacheHitTokens = res.Usage.CacheHitTokens()
	}
}

func (h *handlers) fail(w http.ResponseWriter, s *reqscope.Scope, err error) {
	ae := apiError(err)
	s.Err, s.ErrorType = err, ae.Type
	hd := w.Header()
	for k, v := range errorHeaders(err, ae) {
		hd[k] = v
	}
	writeError(w, ae)
}

// readRequestBody reads the whole body into one buffer sized from
// Content-Length when the client sent it. The body reader is already
// capped at limit (see scope); a declared length over it fails at once.
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
		if errors.As(err, &mbe) {
			return nil, tooLarge(mbe.Limit)
		}
		return nil, openai.InvalidRequest("", "reading request body: "+err.Error())
	}
	return body, nil
}

// sseSink writes a stream to the client, flushing every event. With
// hash set it also digests every data payload, each followed by "\n", for
// the audit record.
type sseSink struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	started bool
	buf     []byte
	hash    hash.Hash
}

func (s *sseSink) start() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell nginx in front not to buffer
	s.w.WriteHeader(http.StatusOK)
}

func (s *sseSink) Data(p []byte) error {
	s.start()
	if s.hash != nil {
		s.hash.Write(p)
		s.hash.Write(newline)
	}
	s.buf = openai.AppendEvent(s.buf[:0], p)
	_, err := s.w.Write(s.buf)
	return err
}

func (s *sseSink) Comment(line []byte) error {
	s.start()
	s.buf = append(append(s.buf[:0], line...), '\n', '\n')
	_, err := s.w.Write(s.buf)
	return err
}

// Flush sends the buffered events. The response writer buffers writes
// until then, so a burst of events leaves in one write.
func (s *sseSink) Flush() error { return s.rc.Flush() }

var newline = []byte{'\n'}

type modelList struct {
	Object string          `json:"object"`
	Data   []gateway.Model `json:"data"`
}

func (h *handlers) models(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	writeJSON(w, http.StatusOK, modelList{Object: "list", Data: h.opts.Gateway().Models()})
}

func (h *handlers) model(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	id := r.PathValue("id")
	m, ok := h.opts.Gateway().Model(id)
	if !ok {
		writeError(w, &openai.Error{Status: http.StatusNotFound, Type: "invalid_request_error", Param: "model",
			Code: "model_not_found", Message: "The model `" + id + "` does not exist or you do not have access to it."})
		return
	}
	writeJSON(w, http.StatusOK, m)
}

// upstreams shows every upstream's health, breaker, load and last error.
// It names upstreams by their config name, never by address.
func (h *handlers) upstreams(w http.ResponseWriter, r *http.Request, _ *auth.Principal) {
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": h.opts.Gateway().Upstreams()})
}

func (h *handlers) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (h *handlers) readyz(w http.ResponseWriter, r *http.Request) {
	if !h.opts.Gateway().Ready() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "no upstream available"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, openai.NewError(http.StatusInternalServerError, "internal error", ""))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
