package grpcapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/upstream"
)

// statusClientClosed is nginx's 499, used for a caller that went away.
const statusClientClosed = 499

// errorDomain is google.rpc.ErrorInfo.domain for dsgate's errors.
const errorDomain = "dsgate"

// APIError maps any pipeline error to the OpenAI error an HTTP client
// would get. It mirrors internal/httpapi's apiError case for case (the
// end-to-end tests check the two agree over the wire); internal/batch uses
// it to render per-item errors.
func APIError(err error) *openai.Error {
	var ae *openai.Error
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, context.Canceled) {
		return &openai.Error{Status: statusClientClosed, Message: "client closed request", Type: "client_closed", Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &openai.Error{Status: http.StatusGatewayTimeout, Message: "request timed out", Type: "timeout_error", Err: err}
	}
	if errors.Is(err, upstream.ErrNoTarget) {
		return &openai.Error{Status: http.StatusServiceUnavailable, Message: "no upstream is available for this model",
			Type: "service_unavailable_error", Code: "no_upstream", Err: err}
	}
	var rl *ratelimit.Error
	switch {
	case errors.As(err, &rl) && errors.Is(err, ratelimit.ErrBackendUnavailable):
		return &openai.Error{Status: http.StatusServiceUnavailable, Message: "rate limiting is unavailable; try again shortly",
			Type: "service_unavailable_error", Code: "rate_limiter_unavailable", Err: err}
	case errors.As(err, &rl):
		return &openai.Error{Status: http.StatusTooManyRequests, Message: rl.Error(), Type: "rate_limit_error",
			Code: "rate_limit_exceeded", Err: err}
	case errors.Is(err, auth.ErrUnauthenticated):
		return &openai.Error{Status: http.StatusUnauthorized, Message: authMessage(err), Type: "authentication_error",
			Code: "invalid_api_key", Err: err}
	case errors.Is(err, auth.ErrForbidden):
		return &openai.Error{Status: http.StatusForbidden, Message: err.Error(), Type: "permission_error",
			Code: "permission_denied", Err: err}
	}
	var ex *gateway.ExhaustedError
	if errors.As(err, &ex) {
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

// upstreamError keeps an upstream's verdict on the request (a 4xx) and
// turns its own failures into 502 or 504, never showing transport details.
func upstreamError(ue *upstream.Error) *openai.Error {
	switch {
	case ue.API != nil && ue.StatusCode >= 400 && ue.StatusCode < 500:
		e := *ue.API
		e.Err = ue
		return &e
	case errors.Is(ue, gateway.ErrFirstToken), errors.Is(ue, gateway.ErrStalled):
		return &openai.Error{Status: http.StatusGatewayTimeout, Message: "upstream " + ue.Upstream + ": " + upstream.Summary(ue),
			Type: "timeout_error", Code: "upstream_timeout", Err: ue}
	case ue.API != nil && ue.StatusCode == 0: // an error event inside a stream
		e := *ue.API
		e.Status, e.Type, e.Err = http.StatusBadGateway, "server_error", ue
		return &e
	}
	msg := "upstream " + ue.Upstream + " failed: " + upstream.Summary(ue)
	return &openai.Error{Status: http.StatusBadGateway, Message: msg, Type: "server_error", Code: "upstream_error", Err: ue}
}

func authMessage(err error) string {
	if errors.Is(err, auth.ErrNoCredentials) {
		return "missing credentials: send an API key or access token as authorization: Bearer <token> metadata"
	}
	return "invalid credentials: " + err.Error()
}

// Code is the gRPC code for an HTTP status, after grpc's
// doc/http-grpc-status-mapping.md adapted to an API gateway: failures of
// upstreams are UNAVAILABLE (the client may retry), a 402 balance problem
// is FAILED_PRECONDITION.
func Code(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusPaymentRequired:
		return codes.FailedPrecondition
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusMethodNotAllowed:
		return codes.Unimplemented
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	case http.StatusConflict:
		return codes.Aborted
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case statusClientClosed:
		return codes.Canceled
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	if httpStatus >= 400 && httpStatus < 500 {
		return codes.FailedPrecondition
	}
	return codes.Internal
}

// Status turns err into the status the client gets: the mapped code, the
// OpenAI message, google.rpc.ErrorInfo with the OpenAI type, code and param
// and the HTTP status, and google.rpc.RetryInfo when waiting helps.
func Status(err error) *status.Status {
	if st, ok := status.FromError(err); ok && err != nil {
		return st // already a status (a gRPC-level failure)
	}
	ae := APIError(err)
	st := status.New(Code(ae.Status), ae.Message)
	reason := ae.Code
	if reason == "" {
		reason = ae.Type
	}
	info := &errdetails.ErrorInfo{Reason: reason, Domain: errorDomain, Metadata: map[string]string{
		"http_status": strconv.Itoa(ae.Status), "type": ae.Type,
	}}
	if ae.Param != "" {
		info.Metadata["param"] = ae.Param
	}
	if ae.Code != "" {
		info.Metadata["code"] = ae.Code
	}
	details := []protoadapt.MessageV1{info}
	if d, ok := retryAfter(err, ae.Status); ok {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
	}
	if withDetails, derr := st.WithDetails(details...); derr == nil {
		st = withDetails
	}
	return st
}

// retryAfter is how long a client should wait before retrying, for the
// statuses where retrying helps; the HTTP API sends the same as Retry-After.
func retryAfter(err error, httpStatus int) (time.Duration, bool) {
	var rl *ratelimit.Error
	if errors.As(err, &rl) && rl.RetryAfter > 0 {
		return rl.RetryAfter, true
	}
	if httpStatus == http.StatusTooManyRequests || httpStatus == http.StatusServiceUnavailable {
		return time.Second, true
	}
	return 0, false
}

// protoErr converts err to a status error for returning from a handler.
func protoErr(err error) error { return Status(err).Err() }
