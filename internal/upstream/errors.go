package upstream

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/dsgate/dsgate/internal/openai"
)

// ErrNoTarget means no target of a pool is available.
var ErrNoTarget = errors.New("no upstream available")

// Error is a failed upstream call, classified.
type Error struct {
	Upstream   string        // config name, never an address
	StatusCode int           // upstream HTTP status; 0 for transport errors
	Retryable  bool          // another attempt may succeed (see RetryPolicy)
	Blame      Blame         // whose fault it was; BlameUpstream unless set
	RetryAfter time.Duration // from the upstream's Retry-After, if any
	API        *openai.Error // the upstream's error, normalised; nil for transport errors
	Err        error
}

func (e *Error) Error() string {
	msg := "upstream " + e.Upstream
	if e.StatusCode != 0 {
		msg += ": HTTP " + http.StatusText(e.StatusCode)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Summary describes err for clients and logs without transport details:
// dial errors name internal addresses, so they become "connection failed".
// An upstream's own message is kept only when it is about the request
// (BlameRequest); otherwise it may carry the engine's internals (paths,
// hosts, key fragments), and the status says enough.
func Summary(err error) string {
	var ue *Error
	if !errors.As(err, &ue) {
		if errors.Is(err, context.DeadlineExceeded) {
			return "timed out"
		}
		return "failed"
	}
	switch {
	case ue.StatusCode != 0 && ue.Blame == BlameRequest && ue.API != nil && ue.API.Message != "":
		return "HTTP " + strconv.Itoa(ue.StatusCode) + ": " + ue.API.Message
	case ue.StatusCode != 0 && ue.Blame == BlameAccount:
		return "HTTP " + strconv.Itoa(ue.StatusCode) + ": the upstream refused dsgate's credentials or account"
	case ue.StatusCode != 0:
		return "HTTP " + strconv.Itoa(ue.StatusCode) + " " + http.StatusText(ue.StatusCode)
	case ue.API != nil:
		return "error event"
	case errors.As(ue.Err, new(*SafeError)):
		return ue.Err.Error()
	}
	var ne net.Error
	if errors.As(ue.Err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return "connection failed"
}

// SafeError is an error whose text may be shown to clients: it names no
// address or secret. The gateway wraps its own conditions (stalled stream,
// first-token timeout) in it.
type SafeError struct{ Msg string }

func (e *SafeError) Error() string { return e.Msg }
