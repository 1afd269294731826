package upstream

import (
	"errors"
	"net/http"
	"time"

	"github.com/dsgate/dsgate/internal/openai"
)

// ErrNoTarget means no target of a pool is available.
var ErrNoTarget = errors.New("no upstream available")

// Error is a failed upstream call, classified.
type Error struct {
	Upstream   string        // config name, never an address
	StatusCode int           // upstream HTTP status; 0 for transport errors
	Retryable  bool          // another target may succeed
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

// retryableStatus reports whether an upstream HTTP status is worth trying
// on another target: rate limits and server-side failures.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500
}
