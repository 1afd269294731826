// Package apierror turns the errors of every pipeline step (access,
// gateway, upstream) into the OpenAI error clients see: the one
// classification that the HTTP and gRPC transports and the batch APIs
// share. Transports then render it (httpapi: status and JSON; grpcapi:
// status code and details).
package apierror

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/upstream"
)

// StatusClientClosed is nginx's 499: the client went away. It appears in
// logs and metrics only; nobody is left to receive it.
const StatusClientClosed = 499

// WithCause returns the cause the server cancelled ctx with (a shutdown
// cutting the request at the end of its grace period) in place of err when
// err is that bare cancellation, so the client is told why. A client that
// went away (no cause of its own) leaves err as it is.
func WithCause(ctx context.Context, err error) error {
	if err == nil || !errors.Is(err, context.Canceled) {
		return err
	}
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

// From maps any pipeline error to the OpenAI error a client gets, with the
// HTTP status that goes with it. Both transports and the batch APIs use it,
// so a failure reads the same over HTTP and gRPC.
func From(err error) *openai.Error {
	var ae *openai.Error
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, upstream.ErrNoTarget) {
		return &openai.Error{Status: http.StatusServiceUnavailable, Message: "no upstream is available for this model",
			Type: "service_unavailable_error", Code: "no_upstream", Err: err}
	}
	// A failed-closed limiter wraps its backend's error, which may be its
	// own short deadline: it is checked before bare context errors, so a
	// hung or stopped Redis answers the documented quick 503, not a 504.
	var rl *ratelimit.Error
	if errors.As(err, &rl) && errors.Is(err, ratelimit.ErrBackendUnavailable) {
		return &openai.Error{Status: http.StatusServiceUnavailable, Message: "rate limiting is unavailable; try again shortly",
			Type: "service_unavailable_error", Code: "rate_limiter_unavailable", Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return &openai.Error{Status: StatusClientClosed, Message: "client closed request", Type: "client_closed", Err: err}
	}
	if errors.Is(err, store.ErrUnavailable) { // before the deadline: a connect timeout wraps one
		return &openai.Error{Status: http.StatusServiceUnavailable, Message: "the control-plane store is unavailable; try again shortly",
			Type: "service_unavailable_error", Code: "store_unavailable", Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &openai.Error{Status: http.StatusGatewayTimeout, Message: "request timed out", Type: "timeout_error", Err: err}
	}
	switch {
	case errors.As(err, &rl):
		return &openai.Error{Status: http.StatusTooManyRequests, Message: rl.Error(), Type: "rate_limit_error",
			Code: "rate_limit_exceeded", Err: err}
	case errors.Is(err, auth.ErrIssuerUnavailable):
		return &openai.Error{Status: http.StatusServiceUnavailable, Message: err.Error(),
			Type: "service_unavailable_error", Code: "identity_provider_unavailable", Err: err}
	case errors.Is(err, auth.ErrUnauthenticated):
		return &openai.Error{Status: http.StatusUnauthorized, Message: authMessage(err), Type: "authentication_error",
			Code: "invalid_api_key", Err: err}
	case errors.Is(err, auth.ErrForbidden):
		return &openai.Error{Status: http.StatusForbidden, Message: err.Error(), Type: "permission_error",
			Code: "permission_denied", Err: err}
	}
	var ex *gateway.ExhaustedError
	if errors.As(err, &ex) {
		if ex.AllAccount() {
			return &openai.Error{Status: http.StatusBadGateway, Message: ex.Error() + "; the operator must fix the gateway's upstream credentials",
				Type: "server_error", Code: "upstream_credentials", Err: err}
		}
		if ex.AllRateLimited() {
			return &openai.Error{Status: http.StatusTooManyRequests, Message: ex.Error(), Type: "rate_limit_error",
				Code: "rate_limit_exceeded", Err: err}
		}
		return &openai.Error{Status: http.StatusServiceUnavailable, Message: ex.Error(),
			Type: "service_unavailable_error", Code: "all_upstreams_failed", Err: err}
	}
	var ue *upstream.Error
	if errors.As(err, &ue) {
		return upstreamError(ue)
	}
	return &openai.Error{Status: http.StatusInternalServerError, Message: "internal error", Type: "server_error", Err: err}
}

// upstreamError keeps an upstream's verdict on the request itself (a 4xx
// such as context_length_exceeded) and turns its own failures into 502 or
// 504. Transport messages carry addresses and are never shown; nor are the
// messages of an upstream's own failures (5xx bodies, error events inside
// a stream), which may carry an engine's internals: upstream.Summary keeps
// only what is about the request. The logs have the rest.
//
// An upstream's 401, 402 or 403 is about dsgate's own credentials or
// account with it, not the caller's: the caller gets a 502 naming the
// upstream, never the upstream's status or body.
func upstreamError(ue *upstream.Error) *openai.Error {
	switch {
	case ue.Blame == upstream.BlameAccount:
		return &openai.Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_credentials",
			Message: "upstream " + ue.Upstream + " refused the gateway's credentials or account (HTTP " +
				strconv.Itoa(ue.StatusCode) + "); the operator must fix them", Err: ue}
	case ue.API != nil && ue.StatusCode >= 400 && ue.StatusCode < 500:
		e := *ue.API
		e.Err = ue
		return &e
	case errors.Is(ue, gateway.ErrFirstToken), errors.Is(ue, gateway.ErrStalled):
		return &openai.Error{Status: http.StatusGatewayTimeout, Message: "upstream " + ue.Upstream + ": " + upstream.Summary(ue),
			Type: "timeout_error", Code: "upstream_timeout", Err: ue}
	}
	msg := "upstream " + ue.Upstream + " failed: " + upstream.Summary(ue)
	return &openai.Error{Status: http.StatusBadGateway, Message: msg, Type: "server_error", Code: "upstream_error", Err: ue}
}

// authMessage explains a 401 without echoing the credential.
func authMessage(err error) string {
	if errors.Is(err, auth.ErrNoCredentials) {
		return "missing credentials: send an API key or access token as Bearer token (Authorization header or metadata) or as x-api-key"
	}
	return "invalid credentials: " + err.Error()
}

// Headers are the headers err's answer carries whatever the transport
// (HTTP headers, gRPC metadata): a rate limit's x-ratelimit-* state and
// Retry-After, or an error's own (an exhausted budget's Retry-After and
// reset); nil for other errors.
func Headers(err error) http.Header {
	var rl *ratelimit.Error
	if errors.As(err, &rl) {
		return ratelimit.Headers(err)
	}
	var own interface{ ErrorHeaders() http.Header }
	if errors.As(err, &own) {
		return own.ErrorHeaders()
	}
	return nil
}
