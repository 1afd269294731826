package grpcapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/ratelimit"
)

// statusClientClosed is the 499 of a caller that went away.
const statusClientClosed = apierror.StatusClientClosed

// errorDomain is google.rpc.ErrorInfo.domain for dsgate's errors.
const errorDomain = "dsgate"

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
	ae := apierror.From(err)
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
// statuses where retrying helps; the HTTP API sends the same as
// Retry-After, from the same source: a rate limit's own delay (to the
// millisecond here), the Retry-After of an error that has headers of its
// own (an exhausted budget: until it resets), else one second.
func retryAfter(err error, httpStatus int) (time.Duration, bool) {
	var rl *ratelimit.Error
	if errors.As(err, &rl) && rl.RetryAfter > 0 {
		return rl.RetryAfter, true
	}
	if secs, perr := strconv.Atoi(apierror.Headers(err).Get("Retry-After")); perr == nil && secs > 0 {
		return time.Duration(secs) * time.Second, true
	}
	if httpStatus == http.StatusTooManyRequests || httpStatus == http.StatusServiceUnavailable {
		return time.Second, true
	}
	return 0, false
}

// protoErr converts err to a status error for returning from a handler.
func protoErr(err error) error { return Status(err).Err() }

// recordStatus is the HTTP status a finished call is recorded with
// (Call.Status): 200, or the status its error maps to (apierror.From,
// what the status's ErrorInfo says as http_status and what HTTP records
// for the same failure). Code is many-to-one (502 and 503 are both
// UNAVAILABLE, 413 and 422 INVALID_ARGUMENT), so it is mapped back only
// for a failure with no dsgate error behind it: a status raised by grpc
// itself or a panic.
func recordStatus(err error, code codes.Code) int {
	if code == codes.OK {
		return http.StatusOK
	}
	if _, grpcLevel := status.FromError(err); err != nil && !grpcLevel {
		return apierror.From(err).Status
	}
	return HTTPStatus(code)
}

// HTTPStatus is the HTTP status a gRPC code stands for, the inverse of
// Code. It loses what Code merged (502 and 503 both come back as 503);
// Call.Status has the status a call's error maps to.
func HTTPStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return statusClientClosed
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.Unimplemented:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}
