package openai

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
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
	// UpstreamType is the engine's own error type when it differs from
	// Type (llama.cpp's exceed_context_size_error, vLLM's BadRequestError);
	// rendered as upstream_type, omitted when empty.
	UpstreamType string
	// PromptTokens and ContextTokens are the token counts of an engine's
	// context overflow (llama.cpp's n_prompt_tokens and n_ctx, rendered
	// under those names); 0 when the engine did not send them.
	PromptTokens, ContextTokens int
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
	// The engine's details, kept for clients that read them (see Error).
	UpstreamType  string `json:"upstream_type,omitempty"`
	NPromptTokens int    `json:"n_prompt_tokens,omitempty"`
	NCtx          int    `json:"n_ctx,omitempty"`
}

// Body returns the envelope for e.
func (e *Error) Body() ErrorBody {
	obj := ErrorObject{Message: e.Message, Type: e.Type,
		UpstreamType: e.UpstreamType, NPromptTokens: e.PromptTokens, NCtx: e.ContextTokens}
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

// Overloaded is the 503 of a request the gateway has no room for: it is
// serving its limit of requests and connections (server.max_connections).
// Both transports answer it: HTTP with Retry-After, gRPC as UNAVAILABLE.
func Overloaded(limit int) *Error {
	return NewError(http.StatusServiceUnavailable,
		fmt.Sprintf("the gateway is serving its limit of %d connections and requests; retry shortly", limit),
		"server_overloaded")
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
	d := upstreamDetails(body)
	if d.Type != "" && d.Type != e.Type {
		e.UpstreamType = d.Type
	}
	e.PromptTokens, e.ContextTokens = d.NPromptTokens, d.NCtx
	if status == http.StatusBadRequest && e.Code == "" && contextOverflow(d.Type, msg) {
		e.Code = CodeContextLengthExceeded
	}
	return e
}

// CodeContextLengthExceeded is OpenAI's code for a prompt (plus max_tokens)
// longer than the model's context; dsgate gives it to every engine's
// overflow so clients need not parse messages.
const CodeContextLengthExceeded = "context_length_exceeded"

// engineError is what an error body may say beyond its message.
type engineError struct {
	Type          string `json:"type"`
	NPromptTokens int    `json:"n_prompt_tokens"`
	NCtx          int    `json:"n_ctx"`
}

// upstreamDetails reads the type and token counts of an error body, nested
// ({"error":{...}}, OpenAI, vLLM, llama.cpp) or flat (SGLang). Values of
// the wrong type are left out.
func upstreamDetails(body []byte) engineError {
	var v struct {
		Error json.RawMessage `json:"error"`
		engineError
	}
	if json.Unmarshal(trimSpace(body), &v) != nil {
		return engineError{}
	}
	var inner engineError
	if len(v.Error) > 0 && v.Error[0] == '{' && json.Unmarshal(v.Error, &inner) == nil {
		return inner
	}
	if len(v.Error) > 0 {
		return engineError{} // {"error":"text"}: no type
	}
	return v.engineError
}

// overflowPhrases are how engines word a context overflow in a 400:
// llama.cpp ("request (N tokens) exceeds the available context size"),
// vLLM ("This model's maximum context length is N tokens"), SGLang ("The
// input (N tokens) is longer than the model's context length").
var overflowPhrases = []string{
	"exceeds the available context size",
	"maximum context length",
	"longer than the model's context length",
}

// contextOverflow reports whether a 400 is an engine's context overflow.
func contextOverflow(typ, msg string) bool {
	if typ == "exceed_context_size_error" {
		return true
	}
	lower := strings.ToLower(msg)
	for _, p := range overflowPhrases {
		if strings.Contains(lower, p) {
			return true
		}
	}
	return false
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
