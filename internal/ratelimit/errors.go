package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// ErrBackendUnavailable is wrapped by the *Error returned when the backend
// fails and the policy is fail-closed; transports may answer 503 for it.
var ErrBackendUnavailable = errors.New("rate limit backend unavailable")

// Dimension names the limit that rejected a request.
type Dimension string

// Dimensions.
const (
	Requests    Dimension = "requests"
	Tokens      Dimension = "tokens"
	Concurrency Dimension = "concurrency"
)

// State is the state of one limit after a decision.
type State struct {
	Limit     int64         // capacity per minute (or concurrent slots); 0: unlimited
	Remaining int64         // units available now
	Reset     time.Duration // until the limit is fully replenished
}

// Error rejects a request. Limit, Remaining and Reset describe the limit
// named by Dimension; Requests and Tokens carry both per-minute limits for
// the x-ratelimit-* headers.
type Error struct {
	Dimension  Dimension
	RetryAfter time.Duration
	Limit      int64
	Remaining  int64
	Reset      time.Duration
	Requests   State
	Tokens     State
	Err        error // ErrBackendUnavailable when failing closed, else nil
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("rate limited: %v", e.Err)
	}
	return fmt.Sprintf("rate limit reached for %s: limit %d, retry after %s", e.Dimension, e.Limit, e.RetryAfter)
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// Headers returns OpenAI-style rate-limit headers for a rejection
// (x-ratelimit-*, retry-after in whole seconds rounded up, retry-after-ms);
// nil when err is not a *Error.
func Headers(err error) http.Header {
	var e *Error
	if !errors.As(err, &e) {
		return nil
	}
	h := StatusHeaders(e.Requests, e.Tokens)
	secs := int64(math.Ceil(e.RetryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	h.Set("Retry-After-Ms", strconv.FormatInt(max(e.RetryAfter.Milliseconds(), 1), 10))
	return h
}

// StatusHeaders returns x-ratelimit-{limit,remaining,reset}-{requests,tokens}
// for limits that are set. Reset values are Go duration strings, as OpenAI
// sends them ("6m0s", "12ms").
func StatusHeaders(requests, tokens State) http.Header {
	h := make(http.Header, 6)
	SetStatusHeaders(h, requests, tokens)
	return h
}

// SetStatusHeaders writes the headers of StatusHeaders into h, with
// canonical keys computed once: it runs on every admitted request.
func SetStatusHeaders(h http.Header, requests, tokens State) {
	// One backing array holds the values of all six headers, each
	// header's slice capped at its one value.
	var vals *[6]string
	set := func(keys *[3]string, off int, s State) {
		if s.Limit <= 0 {
			return
		}
		if vals == nil {
			vals = new([6]string)
		}
		v := vals[off : off+3 : off+3]
		v[0] = strconv.FormatInt(s.Limit, 10)
		v[1] = strconv.FormatInt(min(max(s.Remaining, 0), s.Limit), 10)
		v[2] = s.Reset.Round(time.Millisecond).String()
		h[keys[0]], h[keys[1]], h[keys[2]] = v[0:1:1], v[1:2:2], v[2:3:3]
	}
	set(&requestKeys, 0, requests)
	set(&tokenKeys, 3, tokens)
}

var (
	requestKeys = [3]string{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests"}
	tokenKeys   = [3]string{"X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens"}
)
