package httpapi

import (
	"context"

	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dsgate/dsgate/internal/openai"
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

func recoverPanics(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler {
				if v != nil {
					panic(v)
				}
				return
			}
			log.Error("panic serving request", keyRequestID, reqscope.From(r.Context()).RequestID,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if sw, ok := w.(*statusWriter); !ok || !sw.wroteHeader {
				writeError(w, openai.NewError(http.StatusInternalServerError, "internal error", ""))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// scope puts a fresh Scope with the request id into the context, echoes
// the id, and bounds the body size and the request's total time. A
// client-supplied X-Request-Id is kept when it is sane. One context copy
// serves all of it.
func scope(next http.Handler, maxBody int64, exempt []string, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		hd := w.Header()
		hd.Set("X-Request-Id", id)
		hd.Set("X-Content-Type-Options", "nosniff")
		if r.TLS != nil {
			hd.Set("Strict-Transport-Security", "max-age=63072000")
		}
		if maxBody > 0 && !hasPrefix(r.URL.Path, exempt) {
			r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		}
		ctx := reqscope.With(r.Context(), &reqscope.Scope{RequestID: id, Start: time.Now()})
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
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

// statusWriter records what was written for the access log. Unwrap lets
// http.ResponseController reach the real writer's Flush.
type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe writes the access log line, the metrics and the audit record
// after the handler returns.
func observe(next http.Handler, o *Options) http.Handler {
	log := o.Logger
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		if o.Tracer != nil {
			ctx, span := o.Tracer.Start(tracing.Extract(r.Context(), r.Header), "HTTP "+r.Method,
				trace.WithSpanKind(trace.SpanKindServer))
			defer func() { endRequestSpan(span, r, sw.status) }()
			r = r.WithContext(ctx)
		}
		if o.Metrics != nil {
			o.Metrics.InFlightRequests.Inc()
			defer o.Metrics.InFlightRequests.Dec()
		}
		next.ServeHTTP(sw, r)
		end := time.Now()
		s := reqscope.From(r.Context())
		// The status the client saw: a client that left after the whole
		// response was written saw it, not a 499.
		status := sw.status
		if errors.Is(s.Err, context.Canceled) || (!sw.wroteHeader && errors.Is(r.Context().Err(), context.Canceled)) {
			status = StatusClientClosed
		}
		o.recorder().Record(s, s.Route, r.Method, r.RemoteAddr, status, end)
		if !o.AccessLog {
			return
		}
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelWarn
		}
		attrs := []slog.Attr{
			slog.String(keyRequestID, s.RequestID),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int(keyStatus, status),
			slog.Float64(keyLatency, float64(end.Sub(s.Start).Microseconds())/1000),
			slog.Int64("bytes", sw.bytes),
		}
		if s.Model != "" {
			attrs = append(attrs, slog.String(keyModel, s.Model), slog.String(keyUpstream, s.Upstream),
				slog.Bool("stream", s.Stream), slog.Int("attempts", s.Attempts),
				slog.Int("prompt_tokens", s.PromptTokens), slog.Int("completion_tokens", s.CompletionTokens))
		}
		if s.CacheResult != "" {
			attrs = append(attrs, slog.String("cache", s.CacheResult))
		}
		if s.Err != nil {
			attrs = append(attrs, slog.String("error", s.Err.Error()))
		}
		log.LogAttrs(r.Context(), level, "request", attrs...)
	})
}

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
