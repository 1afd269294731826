package openai

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// Error is an API error in OpenAI's shape. Every failure that reaches a
// client, from any step of the pipeline, ends up as one of these.
type Error struct {
	Status  int    // HTTP status
	Message string // safe to show to the client
	Type    string // invalid_request_error, authentication_error, ...
	Param   string // "" renders as null
	Code    string // "" renders as null
	Err     error  // cause, for logs only; never rendered
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorBody is the JSON envelope {"error":{...}}.
type ErrorBody struct {
	Error ErrorObject `json:"error"`
}

// ErrorObject is the inner error object. Param and Code are pointers so that
// absent values render as null, which strict SDKs expect.
type ErrorObject struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// Body returns the envelope for e.
func (e *Error) Body() ErrorBody {
	obj := ErrorObject{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		obj.Param = &e.Param
	}
	if e.Code != "" {
		obj.Code = &e.Code
	}
	return ErrorBody{Error: obj}
}

// JSON renders the envelope. It cannot fail: every field is a string.
func (e *Error) JSON() []byte {
	b, _ := json.Marshal(e.Body())
	return b
}

// NewError builds an Error with the conventional type for status.
func NewError(status int, message, code string) *Error {
	return &Error{Status: status, Message: message, Type: TypeForStatus(status), Code: code}
}

// InvalidRequest is a 400 about one request parameter.
func InvalidRequest(param, message string) *Error {
	return &Error{Status: http.StatusBadRequest, Message: message, Type: "invalid_request_error", Param: param}
}

// TypeForStatus gives OpenAI's conventional error type for an HTTP status.
func TypeForStatus(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status == http.StatusPaymentRequired:
		return "insufficient_quota"
	case status == http.StatusServiceUnavailable:
		return "service_unavailable_error"
	case status >= 500:
		return "server_error"
	default:
		return "invalid_request_error"
	}
}

// NormalizeUpstreamError turns an upstream error response into an Error.
// Upstreams disagree on the shape (DeepSeek's unreliable code and type,
// vLLM's and llama.cpp's integer code, SGLang's flat body, Ollama's string
// error), so the status decides the type and only the message is kept.
// The message is cut to a sane length; upstream addresses and keys never
// appear in it because upstreams do not echo them back, and the gateway
// adds none.
func NormalizeUpstreamError(status int, body []byte) *Error {
	msg := upstreamMessage(body)
	if msg == "" {
		msg = "upstream returned HTTP " + strconv.Itoa(status)
	}
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	e := &Error{Status: status, Message: msg, Type: TypeForStatus(status)}
	switch status {
	case http.StatusPaymentRequired:
		e.Code = "insufficient_quota"
	case http.StatusTooManyRequests:
		e.Code = "rate_limit_exceeded"
	}
	if code := upstreamStringCode(body); code != "" && status == http.StatusBadRequest {
		e.Code = code
	}
	return e
}

// upstreamMessage extracts a human message from any of the known shapes.
func upstreamMessage(body []byte) string {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  string          `json:"detail"`
	}
	if json.Unmarshal(trimSpace(body), &v) != nil {
		return ""
	}
	if len(v.Error) > 0 {
		var s string
		if json.Unmarshal(v.Error, &s) == nil {
			return s
		}
		var obj struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(v.Error, &obj) == nil && obj.Message != "" {
			return obj.Message
		}
	}
	if v.Message != "" {
		return v.Message
	}
	return v.Detail
}

// upstreamStringCode returns error.code when it is a meaningful string such
// as context_length_exceeded. DeepSeek's "invalid_request_error" in code is
// dropped: it says nothing the status does not.
func upstreamStringCode(body []byte) string {
	var v struct {
		Error struct {
			Code json.RawMessage `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(trimSpace(body), &v) != nil {
		return ""
	}
	var s string
	if json.Unmarshal(v.Error.Code, &s) != nil || s == "invalid_request_error" {
		return ""
	}
	return s
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }
