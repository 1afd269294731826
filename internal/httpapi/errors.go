package httpapi

import (
	"errors"
	"net/http"

	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// StatusClientClosed is nginx's 499: the client went away.
const StatusClientClosed = apierror.StatusClientClosed

// errorHeaders are the headers that go with an error: rate-limit state and
// Retry-After for the SDKs' back-off, the Bearer challenge for 401.
func errorHeaders(err error, ae *openai.Error) http.Header {
	if h := apierror.Headers(err); h != nil {
		return h
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

// fail is the one place an HTTP request's error is rendered, whatever
// raised it (a step, a handler, a panic). It records the error in the
// request's scope and writes it through the one error table (apierror):
// as OpenAI's JSON error while nothing is written yet, as one SSE error
// event once a stream has started, and not at all once a JSON answer has
// begun. An error answered before the request body was read closes the
// connection, so an unread body is never waited for.
func fail(w http.ResponseWriter, r *http.Request, err error) {
	failAs(w, r, err, shapeOpenAI)
}

// failAs is fail for a route whose API has its own error shape.
func failAs(w http.ResponseWriter, r *http.Request, err error, shape apiShape) {
	ae := pipeline.Fail(reqscope.From(r.Context()), err)
	if ae.Status == StatusClientClosed {
		return
	}
	sw, _ := w.(*statusWriter)
	if sw != nil && sw.wroteHeader {
		if sw.Header().Get("Content-Type") != "text/event-stream" {
			return
		}
		if shape == shapeAnthropic {
			renderAnthropic(w, r, ae, sw)
		} else {
			sw.sse.event(ae.JSON())
		}
		return
	}
	hd := w.Header()
	for k, v := range errorHeaders(err, ae) {
		hd[k] = v
	}
	unread := sw != nil && sw.bodyUnread()
	if unread {
		hd.Set("Connection", "close")
	}
	if shape == shapeAnthropic {
		renderAnthropic(w, r, ae, sw)
	} else {
		writeError(w, ae)
	}
	if unread {
		sw.dropBody()
	}
}

// writeError sends e as a JSON response.
func writeError(w http.ResponseWriter, e *openai.Error) {
	if e.Status == StatusClientClosed {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(e.Status)
	w.Write(e.JSON())
}
