package anthropic

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
)

// Error is an API error in Anthropic's shape:
// {"type":"error","error":{"type":...,"message":...}} with an HTTP status.
type Error struct {
	Status  int    // HTTP status
	Type    string // invalid_request_error, authentication_error, ...
	Message string
	Err     error // cause, for logs only; never rendered
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// JSON renders the error envelope.
func (e *Error) JSON() []byte { return e.JSONWithRequestID("") }

// JSONWithRequestID renders the envelope with Anthropic's top-level
// request_id (the gateway's request ID) when id is not empty.
func (e *Error) JSONWithRequestID(id string) []byte {
	b := make([]byte, 0, len(e.Message)+len(id)+80)
	b = append(b, `{"type":"error","error":{"type":`...)
	b = jsonenc.AppendString(b, e.Type)
	b = append(b, `,"message":`...)
	b = jsonenc.AppendString(b, e.Message)
	b = append(b, '}')
	if id != "" {
		b = append(b, `,"request_id":`...)
		b = jsonenc.AppendString(b, id)
	}
	return append(b, '}')
}

// invalid is a 400 invalid_request_error.
func invalid(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: msg}
}

// TypeForStatus gives Anthropic's error type for an HTTP status, as listed
// in Anthropic's errors reference (400, 401, 402, 403, 404, 413, 429, 500,
// 504, 529); other 4xx are invalid_request_error, as Anthropic documents,
// 503 is overloaded_error and other 5xx api_error.
func TypeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return "invalid_request_error"
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	}
	if status >= 500 {
		return "api_error"
	}
	return "invalid_request_error"
}

// FromOpenAIError maps a gateway or upstream error in OpenAI's shape to
// Anthropic's. The status is kept (Anthropic SDKs retry on 408, 409, 429
// and 5xx alike) and the type follows from it; the message is kept.
func FromOpenAIError(e *openai.Error) *Error {
	status := e.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	return &Error{Status: status, Type: TypeForStatus(status), Message: e.Message, Err: e}
}

// ErrorFromChat maps an upstream's error response (status and OpenAI-shaped
// body, or whatever the upstream sent) to Anthropic's shape.
func ErrorFromChat(status int, body []byte) *Error {
	return FromOpenAIError(openai.NormalizeUpstreamError(status, body))
}

// decodeError reports a body that is not the expected JSON.
func decodeError(err error) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error",
			Message: te.Field + ": expected " + te.Type.String() + ", got " + te.Value, Err: err}
	}
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error",
		Message: "request body is not valid JSON", Err: err}
}
