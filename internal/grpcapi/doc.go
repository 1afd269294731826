// Package grpcapi is dsgate's gRPC surface (proto/dsgate/v1,
// InferenceService): the same inference pipeline as internal/httpapi behind
// a different transport. Each RPC builds the OpenAI JSON body from its proto
// request, validates it with internal/openai, authorizes and admits it with
// internal/access exactly as HTTP does, runs it on the gateway and turns the
// OpenAI JSON answer (or each streamed chunk) back into proto messages.
//
// Interceptors give every call a reqscope.Scope with a request id (metadata
// x-request-id, echoed in the response headers), authenticate the caller
// from "authorization: Bearer" metadata, bound its time, recover panics and
// report the finished call to an optional observer (access log, metrics,
// audit). errors.go is the one place where errors become gRPC statuses; it
// agrees with the HTTP mapping status for status.
//
// The package also registers the standard grpc.health.v1 service and
// server reflection. It must not import internal/config, internal/server or
// internal/httpapi.
package grpcapi
