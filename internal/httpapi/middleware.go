package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/reqscope"
	"github.com/dsgate/dsgate/internal/tracing"
)

// Log attribute keys, shared by every log line about a request.
const (
	keyRequestID = "request_id"
	keyRoute     = "route"
	keyModel     = "model"
	keyUpstream  = "upstream"
	keyStatus    = "status"
	keyLatency   = "latency_ms"
)

// frame runs around every request, routes mounted from other packages
// included. On the way in it gives the request its Scope (request id,
// start), its security headers, its limits (body size, body read
// deadline, total time), its span and the in-flight gauge. On the way out,
// in one deferred function, it recovers a panic from anywhere below (the
// client gets one well-formed error, or one SSE error event once a stream
// has begun) and then writes the metrics, the audit record and the access
// log line: every request is observed, whatever happened to it.
func frame(next http.Handler, o *Options) http.Handler {
	rec := o.recorder()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		hd := w.Header()
		setHeaders(hd, "X-Request-Id", id, "X-Content-Type-Options", "nosniff")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=63072000")
		}
		sw := &statusWriter{ResponseWriter: w, method: r.Method, path: r.URL.Path}
		sw.sse.w = sw
		s := &reqscope.Scope{RequestID: id, Start: time.Now()}
		ctx := reqscope.With(r.Context(), s)
		if o.RequestTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.RequestTimeout)
			defer cancel()
		}
		var span trace.Span
		if o.Tracer != nil {
			ctx, span = o.Tracer.Start(tracing.Extract(ctx, r.Header), "HTTP "+r.Method,
				trace.WithSpanKind(trace.SpanKindServer))
		}
		if o.Metrics != nil {
			o.Metrics.InFlightRequests.Inc()
			defer o.Metrics.InFlightRequests.Dec()
		}
		// The body is wrapped on the request's copy: net/http looks at its
		// own request's body to tell an answer sent with the body unread
		// (then it closes the connection gently, so that the client still
		// reads the answer) from one that read it.
		r = r.WithContext(ctx)
		exempt := hasPrefix(r.URL.Path, o.BodyLimitExempt)
		if o.MaxBodyBytes > 0 && !exempt {
			r.Body = http.MaxBytesReader(w, r.Body, o.MaxBodyBytes)
		}
		if r.ContentLength != 0 {
			sw.trackBody(r, o.bodyDeadline(exempt))
		}
		defer func() {
			if pe := pipeline.Recovered(recover()); pe != nil {
				o.Logger.Error("panic serving request", keyRequestID, id, keyRoute, s.Route,
					"panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
				failAs(sw, r, pe, shapeOf(r.URL.Path))
			}
			sw.sse.end()
			sw.sendHead()
			status := sw.status
			// The status the client saw: one that left after the whole
			// answer was written saw it, not a 499.
			if errors.Is(s.Err, context.Canceled) || status == 0 && errors.Is(ctx.Err(), context.Canceled) {
				status = StatusClientClosed // the client went away
			} else if status == 0 {
				status = http.StatusOK
			}
			end := time.Now()
			rec.Record(s, s.Route, r.Method, r.RemoteAddr, status, end)
			if span != nil {
				endRequestSpan(span, r, status)
			}
			if o.AccessLog {
				accessLog(o.Logger, r, s, sw, status, end)
			}
			sw.sse.release()
		}()
		if !safePath(r.URL.Path) {
			// No id dsgate stores has these; PostgreSQL would refuse them.
			fail(sw, r, openai.NewError(http.StatusNotFound, "unknown request URL: the path has control characters or is not UTF-8", "unknown_url"))
			return
		}
		if !exemptFromCapacity(r.URL.Path) {
			if !o.Capacity.Admit() {
				refuseBusy(sw, r, o)
				return
			}
			defer o.Capacity.Release()
		}
		next.ServeHTTP(sw, r)
	})
}

// safePath reports whether the decoded path is valid UTF-8 without control
// characters, so that an id taken from it can be looked up anywhere (NUL
// and invalid bytes make PostgreSQL fail the query). One pass over the
// bytes; runes are decoded only past ASCII.
func safePath(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < 0x20 || c == 0x7f {
			return false
		}
		if c >= utf8.RuneSelf {
			return safeRunes(p[i:])
		}
	}
	return true
}

func safeRunes(p string) bool {
	for i, r := range p {
		if unicode.IsControl(r) {
			return false
		}
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(p[i:]); n <= 1 {
				return false
			}
		}
	}
	return true
}

// maxLoggedPath bounds the path an error message or log line repeats.
const maxLoggedPath = 512

// clipPath returns at most maxLoggedPath bytes of p.
func clipPath(p string) string {
	if len(p) <= maxLoggedPath {
		return p
	}
	n := maxLoggedPath
	for n > 0 && !utf8.RuneStart(p[n]) {
		n--
	}
	return p[:n] + "..."
}

// bodyDeadline is how long reading a request body may take: uploads
// (exempt from the body limit) get the request timeout, the rest
// BodyReadTimeout.
func (o *Options) bodyDeadline(exempt bool) time.Duration {
	if exempt && o.RequestTimeout > 0 {
		return o.RequestTimeout
	}
	return o.BodyReadTimeout
}

// accessLog writes the request's log line.
func accessLog(log *slog.Logger, r *http.Request, s *reqscope.Scope, sw *statusWriter, status int, end time.Time) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	if lw, ok := log.Handler().(LineWriter); ok {
		if log.Enabled(r.Context(), level) {
			writeAccessLine(lw, level, r, s, sw, status, end)
		}
		return
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String(keyRequestID, s.RequestID),
		slog.String("method", r.Method),
		slog.String("path", clipPath(r.URL.Path)),
		slog.Int(keyStatus, status),
		slog.Float64(keyLatency, float64(end.Sub(s.Start).Microseconds())/1000),
		slog.Int64("bytes", sw.bytes),
	)
	if s.Principal != "" {
		attrs = append(attrs, slog.String("principal", clipPath(s.Principal)))
	}
	if s.Model != "" {
		attrs = append(attrs, slog.String(keyModel, s.Model), slog.String(keyUpstream, s.Upstream),
			slog.Bool("stream", s.Stream), slog.Int("attempts", s.Attempts),
			slog.Int("prompt_tokens", s.PromptTokens), slog.Int("completion_tokens", s.CompletionTokens))
	}
	if s.CacheResult != "" {
		attrs = append(attrs, slog.String("cache", s.CacheResult))
	}
	attrs = pipeline.AppendCostAttrs(attrs, s)
	if s.Err != nil {
		attrs = append(attrs, slog.String("error", s.Err.Error()))
	}
	log.LogAttrs(r.Context(), level, "request", attrs...)
}

func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	return hex.EncodeToString(b[:])
}

// statusWriter records what was written, for the access log and for
// fail, which must know whether headers are gone. It also holds the
// request's SSE sink (no allocation of its own) and the body tracker.
// Plain-text or HTML errors and redirects written by handlers it does not
// own (the mux's 404 and 405, a mounted handler's http.Error, a
// redirect) are rewritten into OpenAI's error shape, so every answer of
// the API has one shape. Unwrap lets http.ResponseController reach the
// real writer's Flush and deadlines.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
	// headPending: the status is decided (a stream's 200) but not handed
	// to net/http yet; the first write or flush does (sendHead).
	headPending  bool
	swallow      bool // a rewritten error: drop the handler's own body
	method, path string
	sse          sseSink
	body         trackedBody
	tracked      bool
	// capture keeps the start of the answer when capturing (the OAuth2
	// token answer, to name the client's role in the record).
	capturing bool
	capture   []byte
}

func (w *statusWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.status, w.wroteHeader = code, true
	if code >= 300 && plainBody(w.Header().Get("Content-Type")) {
		w.rewrite(code)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// commit decides the answer's status without handing it to net/http:
// the first write or flush does (sendHead). A stream's sink commits its
// 200 when the stream starts, deep in the relay, and net/http's
// WriteHeader (a copy of the header) waits for the head's writing, which
// the sink does apart (sseSink.headApart).
func (w *statusWriter) commit(code int) {
	if w.wroteHeader {
		return
	}
	w.status, w.wroteHeader, w.headPending = code, true, true
}

// sendHead hands a committed status to net/http.
func (w *statusWriter) sendHead() {
	if w.headPending {
		w.headPending = false
		w.ResponseWriter.WriteHeader(w.status)
	}
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.sendHead()
	if w.swallow {
		return len(b), nil
	}
	if w.capturing && len(w.capture) < 16<<10 {
		w.capture = append(w.capture, b...)
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// plainBody reports a content type that is not an API answer: what
// http.Error, http.NotFound and http.Redirect write.
func plainBody(ct string) bool {
	return strings.HasPrefix(ct, "text/plain") || strings.HasPrefix(ct, "text/html")
}

// rewrite answers code in OpenAI's error shape instead of the plain body
// the handler was about to write.
func (w *statusWriter) rewrite(code int) {
	e := openai.NewError(code, http.StatusText(code), "")
	switch {
	case code == http.StatusNotFound:
		e.Message, e.Code = "unknown request URL: "+w.method+" "+w.path, "unknown_url"
	case code == http.StatusMethodNotAllowed:
		e.Message, e.Code = "method "+w.method+" is not allowed on "+w.path, "method_not_allowed"
	case code < 400:
		e.Type, e.Code = "invalid_request_error", "redirect"
		e.Message = "this resource is at " + w.Header().Get("Location")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.ResponseWriter.WriteHeader(code)
	if w.method != http.MethodHead {
		n, _ := w.ResponseWriter.Write(e.JSON())
		w.bytes += int64(n)
	}
	w.swallow = true
}

// readDeadliner is the connection's read deadline, as net/http's
// response writers (HTTP/1 and HTTP/2) offer it.
type readDeadliner interface{ SetReadDeadline(time.Time) error }

// FlushError sends what is buffered (http.ResponseController finds it).
func (w *statusWriter) FlushError() error {
	w.sendHead()
	switch f := w.ResponseWriter.(type) {
	case interface{ FlushError() error }:
		return f.FlushError()
	case http.Flusher:
		f.Flush()
		return nil
	}
	return http.ErrNotSupported
}

// trackBody puts the body under a read deadline of its own and notes when
// it has been read to the end. The tracker lives in the statusWriter: no
// allocation of its own.
func (w *statusWriter) trackBody(r *http.Request, d time.Duration) {
	b := &w.body
	b.ReadCloser, b.left, w.tracked = r.Body, r.ContentLength, true
	if dl, ok := w.ResponseWriter.(readDeadliner); ok && d > 0 && dl.SetReadDeadline(time.Now().Add(d)) == nil {
		b.dl = dl
	}
	r.Body = b
}

// bodyUnread reports a request body not yet read to its end.
func (w *statusWriter) bodyUnread() bool { return w.tracked && !w.body.done }

// trackedBody is a request body under a read deadline. At its end it
// lifts the deadline, so a long answer or stream is not cut by it
// (net/http's background read for a client hang-up would hit it). A body
// that fails (its deadline passed, the client broke off) stays unread: the
// connection is closed after the answer.
type trackedBody struct {
	io.ReadCloser
	dl   readDeadliner
	left int64 // bytes still to come; -1 when the length is unknown
	done bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	switch {
	case !b.done && (err == io.EOF || b.left == 0):
		b.done = true
		if b.dl != nil {
			b.dl.SetReadDeadline(time.Time{})
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = errBodyTimeout
	}
	return n, err
}

// dropBody makes sure the unread rest of the request body is not waited
// for long: the answer is flushed, then the connection's reads fail after
// lingerUnread, so net/http closes it (Connection: close) once it has
// discarded what arrived by then instead of draining the whole body.
func (w *statusWriter) dropBody() {
	w.FlushError()
	if dl, ok := w.ResponseWriter.(readDeadliner); ok {
		dl.SetReadDeadline(time.Now().Add(lingerUnread))
	}
}

// lingerUnread is how long net/http may go on reading a body left unread
// after its answer went out (up to 256 KiB of it, discarded; a longer one
// it does not read, and waits as long before it closes). Closing at once
// with the client's bytes unread makes the kernel reset the connection,
// and a client still sending its body then loses the answer it was sent
// (a 413 for a body over the limit, a 401) to "connection reset by peer".
// It is net/http's own delay for the same (rstAvoidanceDelay).
const lingerUnread = 500 * time.Millisecond

// errBodyTimeout is a request body that did not arrive within its deadline.
var errBodyTimeout = openai.NewError(http.StatusRequestTimeout, "the request body did not arrive in time", "request_timeout")

func tooLarge(limit int64) *openai.Error {
	return openai.NewError(http.StatusRequestEntityTooLarge,
		fmt.Sprintf("request body exceeds the limit of %d bytes", limit), "request_too_large")
}

// endRequestSpan names the request's span after its route and records
// what happened.
func endRequestSpan(span trace.Span, r *http.Request, status int) {
	s := reqscope.From(r.Context())
	if s.Route != "" {
		span.SetName(s.Route)
	}
	span.SetAttributes(
		attribute.String("http.request.method", r.Method),
		attribute.String("http.route", s.Route),
		attribute.Int("http.response.status_code", status),
		attribute.String("dsgate.request_id", s.RequestID),
		attribute.String("dsgate.model", s.Model),
		attribute.String("dsgate.upstream", s.Upstream),
		attribute.String("dsgate.cache", s.CacheResult),
		attribute.String("dsgate.principal", s.Principal),
	)
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}

func hasPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}
