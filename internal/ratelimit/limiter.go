package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Options configures a Limiter.
type Options struct {
	Backend Backend // required: NewMemoryBackend() or a redis backend
	// FailOpen admits requests when the backend fails; otherwise they are
	// rejected with an *Error wrapping ErrBackendUnavailable. Either way
	// the failure is logged (at most once a second) and counted.
	FailOpen bool
	// SlotTTL frees a concurrency slot whose request never called Done
	// (a crashed replica); default 10m. Only the Redis backend needs it.
	SlotTTL time.Duration
	// Timeout bounds one backend call; default 100ms.
	Timeout time.Duration
	Clock   func() time.Time
	Logger  *slog.Logger
}

// Stats are cumulative counters since the Limiter was built.
type Stats struct {
	Admitted      uint64
	Rejected      uint64
	BackendErrors uint64
	FailedOpen    uint64
	FailedClosed  uint64
}

// Limiter applies per-key limits. Safe for concurrent use.
type Limiter struct {
	opts     Options
	prefix   string
	seq      atomic.Uint64
	lastWarn atomic.Int64

	admitted, rejected, backendErrors, failedOpen, failedClosed atomic.Uint64
}

// New returns a limiter.
func New(opts Options) (*Limiter, error) {
	if opts.Backend == nil {
		return nil, errors.New("ratelimit: backend is required")
	}
	if opts.SlotTTL <= 0 {
		opts.SlotTTL = 10 * time.Minute
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 100 * time.Millisecond
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("ratelimit: %w", err)
	}
	return &Limiter{opts: opts, prefix: hex.EncodeToString(b[:]) + "-"}, nil
}

// Ticket is an admitted request. Call Done exactly once when it finishes.
type Ticket struct {
	l        *Limiter
	key      string
	limits   Limits
	reserved int64
	id       string
	degraded bool // admitted by fail-open: nothing to settle
	done     atomic.Bool
	// Requests and Tokens describe the limits after admission, for
	// x-ratelimit-* headers on successful responses.
	Requests State
	Tokens   State
}

// Acquire admits one request for key reserving estTokens (the prompt
// estimate plus max output tokens, say) against the TPM limit; an estimate
// above TPM is capped at TPM so a large request waits for a full bucket
// instead of never fitting. It returns a *Error when a limit rejects.
func (l *Limiter) Acquire(ctx context.Context, key string, limits Limits, estTokens int64) (*Ticket, error) {
	estTokens = max(estTokens, 0)
	t := &Ticket{l: l, key: key, limits: limits, reserved: estTokens}
	if limits.RPM <= 0 && limits.TPM <= 0 && limits.MaxConcurrent <= 0 {
		t.degraded = true
		l.admitted.Add(1)
		return t, nil
	}
	if limits.TPM > 0 {
		t.reserved = min(estTokens, limits.TPM)
	}
	if limits.MaxConcurrent > 0 {
		t.id = l.prefix + strconv.FormatUint(l.seq.Add(1), 36)
	}
	ctx, cancel := l.bounded(ctx, false)
	defer cancel()
	d, err := l.opts.Backend.Admit(ctx, Admission{Key: key, Limits: limits, Tokens: t.reserved, Ticket: t.id,
		SlotTTL: l.opts.SlotTTL, Now: l.opts.Clock()})
	if err != nil {
		l.backendErrors.Add(1)
		l.warn("rate limit backend failed", err)
		if l.opts.FailOpen {
			l.failedOpen.Add(1)
			t.degraded = true
			return t, nil
		}
		l.failedClosed.Add(1)
		return nil, &Error{Dimension: Requests, RetryAfter: time.Second, Limit: limits.RPM,
			Err: fmt.Errorf("%w: %w", ErrBackendUnavailable, err)}
	}
	if !d.Allowed {
		l.rejected.Add(1)
		e := &Error{Dimension: d.Dimension, RetryAfter: d.RetryAfter, Requests: d.Requests, Tokens: d.Tokens}
		switch d.Dimension {
		case Requests:
			e.Limit, e.Remaining, e.Reset = d.Requests.Limit, d.Requests.Remaining, d.Requests.Reset
		case Tokens:
			e.Limit, e.Remaining, e.Reset = d.Tokens.Limit, d.Tokens.Remaining, d.Tokens.Reset
		case Concurrency:
			e.Limit, e.Remaining = limits.MaxConcurrent, 0
		}
		return nil, e
	}
	l.admitted.Add(1)
	t.Requests, t.Tokens = d.Requests, d.Tokens
	return t, nil
}

// Done reconciles the reservation with actualTokens (negative: unknown,
// keep the estimate) and frees the concurrency slot. Calls after the first
// do nothing. A backend failure is logged, counted and returned.
// SettlesLocally reports whether Done stays in this process: nothing to
// settle, or the in-memory backend. Done with another backend (Redis) is a
// round trip, which a stream's last events should not wait for.
func (t *Ticket) SettlesLocally() bool {
	if t == nil || t.degraded {
		return true
	}
	_, mem := t.l.opts.Backend.(*MemoryBackend)
	return mem
}

func (t *Ticket) Done(ctx context.Context, actualTokens int64) error {
	if t == nil || !t.done.CompareAndSwap(false, true) || t.degraded {
		return nil
	}
	delta := int64(0)
	if actualTokens >= 0 && t.limits.TPM > 0 {
		delta = actualTokens - t.reserved
	}
	if delta == 0 && t.limits.MaxConcurrent <= 0 {
		return nil
	}
	l := t.l
	ctx, cancel := l.bounded(ctx, true)
	defer cancel()
	err := l.opts.Backend.Settle(ctx, Settlement{Key: t.key, Limits: t.limits, TokenDelta: delta,
		Ticket: t.id, Release: t.limits.MaxConcurrent > 0, Now: l.opts.Clock()})
	if err != nil {
		l.backendErrors.Add(1)
		l.warn("rate limit settle failed", err)
		return fmt.Errorf("settling rate limit: %w", err)
	}
	return nil
}

// Headers returns x-ratelimit-* headers describing the limits after this
// request was admitted.
func (t *Ticket) Headers() http.Header { return StatusHeaders(t.Requests, t.Tokens) }

// WriteHeaders writes the x-ratelimit-* headers into h.
func (t *Ticket) WriteHeaders(h http.Header) { SetStatusHeaders(h, t.Requests, t.Tokens) }

// Stats returns the counters.
func (l *Limiter) Stats() Stats {
	return Stats{Admitted: l.admitted.Load(), Rejected: l.rejected.Load(), BackendErrors: l.backendErrors.Load(),
		FailedOpen: l.failedOpen.Load(), FailedClosed: l.failedClosed.Load()}
}

func (l *Limiter) warn(msg string, err error) {
	now := l.opts.Clock().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(time.Second) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	l.opts.Logger.Warn(msg, "err", err, "fail_open", l.opts.FailOpen, "backend_errors", l.backendErrors.Load())
}
