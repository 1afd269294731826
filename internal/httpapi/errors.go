package httpapi

import (
	"errors"
	"net/http"

	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/ratelimit"
)

// StatusClientClosed is nginx's 499: the client went away.
const StatusClientClosed = apierror.StatusClientClosed

// apiError maps any pipeline error to the OpenAI error the client gets.
func apiError(err error) *openai.Error { return apierror.From(err) }

// errorHeaders are the headers that go with an error: rate-limit state and
// Retry-After for the SDKs' back-off, the Bearer challenge for 401.
func errorHeaders(err error, ae *openai.Error) http.Header {
	var rl *ratelimit.Error
	if errors.As(err, &rl) {
		return ratelimit.Headers(err)
	}
	h := http.Header{}
	switch ae.Status {
	case http.StatusUnauthorized:
		if errors.Is(err, auth.ErrNoCredentials) {
			h.Set("WWW-Authenticate", `Bearer realm="dsgate"`)
		} else {
			h.Set("WWW-Authenticate", `Bearer realm="dsgate", error="invalid_token"`)
		}
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		h.Set("Retry-After", "1")
	}
	return h
}

// writeError sends e as a JSON response.
func writeError(w http.ResponseWriter, e *openai.Error) {
	if e.Status == StatusClientClosed {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.Status)
	w.Write(e.JSON())
}
