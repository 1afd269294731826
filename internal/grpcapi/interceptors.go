package grpcapi

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/dsgate/dsgate/internal/auth"
	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/reqscope"
	"github.com/dsgate/dsgate/internal/tracing"
)

// interceptors run around every call, outside in: scope (request id),
// recover, observe, deadline, authenticate and authorize the method.
type interceptors struct{ o Options }

type principalKey struct{}

// principalFrom returns the caller that the interceptor authenticated.
func principalFrom(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey{}).(*auth.Principal)
	return p
}

var inferencePrefix = "/" + pb.InferenceService_ServiceDesc.ServiceName + "/"

// methodResource is the RBAC resource a method needs (action read, as for
// the HTTP routes); health and reflection need none.
func methodResource(full string) (string, bool) {
	if !strings.HasPrefix(full, inferencePrefix) {
		return "", false
	}
	if full == pb.InferenceService_ListModels_FullMethodName {
		return auth.ResourceModels, true
	}
	return auth.ResourceTextGeneration, true
}

func (ic *interceptors) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	ctx, s, finish := ic.begin(ctx, info.FullMethod)
	defer func() { err = finish(recover(), err) }()
	if !ic.admit(info.FullMethod) {
		return nil, ic.refuse()
	}
	defer ic.release(info.FullMethod)
	if ctx, err = ic.authenticate(ctx, info.FullMethod, s); err != nil {
		return nil, protoErr(err)
	}
	return h(ctx, req)
}

func (ic *interceptors) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	ctx, s, finish := ic.begin(ss.Context(), info.FullMethod)
	defer func() { err = finish(recover(), err) }()
	if !ic.admit(info.FullMethod) {
		return ic.refuse()
	}
	defer ic.release(info.FullMethod)
	if ctx, err = ic.authenticate(ctx, info.FullMethod, s); err != nil {
		return protoErr(err)
	}
	return h(srv, &scopedStream{ServerStream: ss, ctx: ctx})
}

// admit takes a place of the gateway's capacity for a call; health checks
// need none.
func (ic *interceptors) admit(method string) bool {
	return !ic.takesPlace(method) || ic.o.Capacity.Admit()
}

func (ic *interceptors) release(method string) {
	if ic.takesPlace(method) {
		ic.o.Capacity.Release()
	}
}

// takesPlace reports whether a call of method counts against the capacity.
func (ic *interceptors) takesPlace(method string) bool {
	return ic.o.Capacity != nil && !strings.HasPrefix(method, "/grpc.health.")
}

// refuse is the status of a call the gateway has no room for: the HTTP
// API's 503 as UNAVAILABLE, with its reason and retry delay.
func (ic *interceptors) refuse() error {
	return protoErr(openai.Overloaded(ic.o.Capacity.Limit()))
}

// begin gives the call its scope and deadline; finish turns a panic into
// INTERNAL, then logs and observes the call.
func (ic *interceptors) begin(ctx context.Context, method string) (context.Context, *reqscope.Scope, func(any, error) error) {
	md, _ := metadata.FromIncomingContext(ctx)
	id := first(md, "x-request-id")
	if !validRequestID(id) {
		id = newRequestID()
	}
	grpc.SetHeader(ctx, metadata.Pairs("x-request-id", id)) // fails only outside a call
	s := &reqscope.Scope{RequestID: id, Start: time.Now(), Route: method}
	ctx = reqscope.With(ctx, s)
	ctx, cancel := context.WithTimeout(ctx, ic.o.RequestTimeout)
	if base := ic.o.Base; base != nil {
		var cut context.CancelCauseFunc
		ctx, cut = context.WithCancelCause(ctx)
		stop := context.AfterFunc(base, func() { cut(context.Cause(base)) })
		timeout := cancel
		cancel = func() { stop(); cut(nil); timeout() }
	}
	if ic.o.Tracer != nil {
		ctx = tracing.ExtractMap(ctx, md)
	}
	var span trace.Span
	ctx, span = tracing.Start(ctx, ic.o.Tracer, method, trace.WithSpanKind(trace.SpanKindServer))
	return ctx, s, func(panicked any, err error) error {
		defer cancel()
		defer func() {
			span.SetAttributes(attribute.String("rpc.grpc.status_code", status.Code(err).String()),
				attribute.String("dsgate.request_id", id), attribute.String("dsgate.model", s.Model))
			span.End()
		}()
		if panicked != nil {
			ic.o.Logger.Error("panic serving call", "request_id", id, "method", method,
				"panic", fmt.Sprint(panicked), "stack", string(debug.Stack()))
			err = status.Error(codes.Internal, "internal error")
		}
		if err != nil && s.Err == nil {
			s.Err = err
		}
		code := status.Code(err)
		st := recordStatus(s.Err, code)
		if panicked != nil {
			st = http.StatusInternalServerError // whatever failed before, the panic ended the call
		}
		ic.done(ctx, method, s, code, st)
		return err
	}
}

// done logs and observes one finished call or batch item; status is the
// HTTP status it is recorded with (Call.Status).
func (ic *interceptors) done(ctx context.Context, method string, s *reqscope.Scope, code codes.Code, status int) {
	lat := time.Since(s.Start)
	if ic.o.Observe != nil {
		ic.o.Observe(ctx, Call{Method: method, Code: code, Status: status, ClientAddr: clientAddr(ctx), Scope: s, Latency: lat})
	}
	if !ic.o.AccessLog {
		return
	}
	level := slog.LevelInfo
	if code == codes.Internal || code == codes.Unavailable || code == codes.DeadlineExceeded {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("request_id", s.RequestID), slog.String("method", method), slog.String("code", code.String()),
		slog.Float64("latency_ms", float64(lat.Microseconds())/1000),
	}
	if s.Model != "" {
		attrs = append(attrs, slog.String("model", s.Model), slog.String("upstream", s.Upstream),
			slog.Bool("stream", s.Stream), slog.Int("attempts", s.Attempts),
			slog.Int("prompt_tokens", s.PromptTokens), slog.Int("completion_tokens", s.CompletionTokens))
	}
	attrs = pipeline.AppendCostAttrs(attrs, s)
	if s.Err != nil {
		attrs = append(attrs, slog.String("error", s.Err.Error()))
	}
	ic.o.Logger.LogAttrs(ctx, level, "grpc call", attrs...)
}

// authenticate identifies the caller from metadata and checks its role for
// the method; model allow-lists are checked per request later.
func (ic *interceptors) authenticate(ctx context.Context, method string, s *reqscope.Scope) (context.Context, error) {
	resource, ok := methodResource(method)
	if !ok {
		return ctx, nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	cred, credErr := credential(md)
	p, err := ic.o.Access.AuthenticateConn(ctx, cred, credErr, peerTLS(ctx))
	if err != nil {
		s.Err = err
		newAnswerHeader(ctx).fail(err) // a failed-authentication limit's state, as HTTP's 429 has
		return ctx, err
	}
	s.Principal, s.Role = p.ID, p.Role
	if err := ic.o.Access.Authorize(p, resource, auth.ActionRead, ""); err != nil {
		s.Err = err
		return ctx, err
	}
	return context.WithValue(ctx, principalKey{}, p), nil
}

// credential applies the HTTP API's rules (auth.Credential) to the
// authorization and x-api-key metadata, so both transports accept and
// refuse exactly the same credentials.
func credential(md metadata.MD) (string, error) {
	h := http.Header{}
	for _, v := range md.Get("authorization") {
		h.Add("Authorization", v)
	}
	for _, v := range md.Get("x-api-key") {
		h.Add("X-Api-Key", v)
	}
	return auth.Credential(&http.Request{Header: h})
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// scopedStream carries the interceptor's context into a streaming handler.
type scopedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *scopedStream) Context() context.Context { return s.ctx }

// validRequestID accepts the same ids as the HTTP API.
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

// clientAddr is the caller's address (host:port), as an HTTP request's
// RemoteAddr; "" when the transport knows none.
func clientAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// peerTLS is the caller's TLS state, nil on a plaintext connection.
func peerTLS(ctx context.Context) *tls.ConnectionState {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
		return &info.State
	}
	return nil
}
