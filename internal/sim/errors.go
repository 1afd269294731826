package sim

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// errStreamCut ends a stream that a fault closed abruptly.
var errStreamCut = errors.New("stream cut by fault injection")

// apiError is the OpenAI error object. Empty Param and Code render as null.
type apiError struct {
	Message string
	Type    string
	Param   string
	Code    string
}

// writeError writes {"error":{"message","type","param","code"}} with status.
func writeError(w http.ResponseWriter, status int, e apiError) {
	b := make([]byte, 0, 128+len(e.Message))
	b = append(b, `{"error":{"message":`...)
	b = jsonenc.AppendString(b, e.Message)
	b = append(b, `,"type":`...)
	b = jsonenc.AppendString(b, e.Type)
	b = appendNullable(append(b, `,"param":`...), e.Param)
	b = appendNullable(append(b, `,"code":`...), e.Code)
	b = append(b, "}}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return jsonenc.AppendString(b, s)
}

// injectedError is the body for an injected fault. 429, 500 and 503 copy
// DeepSeek's real bodies, whose code is "invalid_request_error" whatever
// the status (api-spec 1.14).
func injectedError(status int) apiError {
	e := apiError{Type: "unknown_error", Code: "invalid_request_error"}
	switch status {
	case http.StatusTooManyRequests:
		e.Message = "Rate Limit Reached"
	case http.StatusInternalServerError:
		e.Message = "Server Error"
	case http.StatusServiceUnavailable:
		e.Message = "Server Overloaded"
	case http.StatusPaymentRequired:
		e.Message = "Insufficient Balance"
	case http.StatusUnauthorized:
		e.Message = "Authentication Fails, Your api key is invalid"
		e.Type = "authentication_error"
	default:
		e.Message = http.StatusText(status)
		if e.Message == "" {
			e.Message = "injected error " + strconv.Itoa(status)
		}
	}
	return e
}

func badRequest(w http.ResponseWriter, param, msg string) {
	writeError(w, http.StatusBadRequest, apiError{Message: msg, Type: "invalid_request_error", Param: param})
}

func modelNotFound(w http.ResponseWriter, model string) {
	writeError(w, http.StatusNotFound, apiError{
		Message: "The model `" + model + "` does not exist",
		Type:    "invalid_request_error", Param: "model", Code: "model_not_found",
	})
}

// fitsContext refuses a prompt of prompt tokens that reaches
// Options.ContextLength; completion is the request's completion limit.
// The plain simulator answers as llama-server does (tools/server: "request
// (N tokens) exceeds the available context size (M tokens), try
// increasing it", type exceed_context_size_error, the numeric code and
// n_prompt_tokens/n_ctx beside it); the DeepSeek personality with the
// OpenAI-style message DeepSeek's API returns (written to match the rule:
// the text is the widely reported one, not copied from DeepSeek's docs).
func (s *Server) fitsContext(w http.ResponseWriter, prompt, completion int) bool {
	limit := s.opts.ContextLength
	if limit <= 0 || (prompt < limit && (!s.deepseek() || prompt+completion <= limit)) {
		return true
	}
	if s.deepseek() {
		badRequest(w, "", "This model's maximum context length is "+strconv.Itoa(limit)+" tokens. However, you requested "+
			strconv.Itoa(prompt+completion)+" tokens ("+strconv.Itoa(prompt)+" in the messages, "+
			strconv.Itoa(completion)+" in the completion). Please reduce the length of the messages or completion.")
		return false
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"error":{"code":400,"message":`...)
	b = jsonenc.AppendString(b, "request ("+strconv.Itoa(prompt)+" tokens) exceeds the available context size ("+
		strconv.Itoa(limit)+" tokens), try increasing it")
	b = append(b, `,"type":"exceed_context_size_error","n_prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = append(b, `,"n_ctx":`...)
	b = strconv.AppendInt(b, int64(limit), 10)
	b = append(b, "}}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write(b)
	return false
}
