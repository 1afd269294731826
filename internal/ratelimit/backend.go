package ratelimit

import (
	"context"
	"time"
)

// Period is the window of every per-minute limit.
const Period = time.Minute

// Limits for one key; zero means unlimited for that dimension.
type Limits struct {
	RPM           int64 // requests per minute
	TPM           int64 // tokens per minute
	MaxConcurrent int64 // requests in flight
}

// Admission asks a backend to admit one request atomically: one request,
// Tokens tokens and, when MaxConcurrent is set, one concurrency slot named
// Ticket that expires after SlotTTL if never released. Nothing is consumed
// unless every limit admits it.
type Admission struct {
	Key     string
	Limits  Limits
	Tokens  int64
	Ticket  string
	SlotTTL time.Duration
	Now     time.Time
}

// Decision is a backend's answer.
type Decision struct {
	Allowed    bool
	Dimension  Dimension // the limit that rejected, when !Allowed
	RetryAfter time.Duration
	Requests   State
	Tokens     State
	Inflight   int64 // slots in use after the decision
}

// Settlement reconciles a reservation after the request: TokenDelta (real
// minus reserved; negative refunds) is applied to the TPM limit without
// checking it, and the Ticket's slot is released when Release is set.
type Settlement struct {
	Key        string
	Limits     Limits
	TokenDelta int64
	Ticket     string
	Release    bool
	Now        time.Time
}

// Backend stores limiter state. Implementations are safe for concurrent
// use and make Admit atomic per key.
type Backend interface {
	Admit(ctx context.Context, a Admission) (Decision, error)
	Settle(ctx context.Context, s Settlement) error
}

// InProcess is implemented by a Backend that answers from memory without
// waiting on anything and without looking at its context: the Limiter
// then calls it with the caller's context as it is, instead of one under
// a timeout of its own (a deadline costs a timer per call for nothing).
type InProcess interface {
	InProcess() bool
}

// bounded returns ctx under the limiter's timeout for a backend that may
// wait (Redis), detached from ctx's cancellation when detach is set, or
// ctx itself for a backend that cannot wait.
func (l *Limiter) bounded(ctx context.Context, detach bool) (context.Context, context.CancelFunc) {
	if ip, ok := l.opts.Backend.(InProcess); ok && ip.InProcess() {
		return ctx, func() {}
	}
	if detach {
		ctx = context.WithoutCancel(ctx)
	}
	return context.WithTimeout(ctx, l.opts.Timeout)
}

// GCRA computes one limit of limit units per Period. tat is the stored
// theoretical arrival time (Unix ns; 0 when new) and n the units asked for.
// It returns the new tat (unchanged when rejected) and the limit's state.
func GCRA(tat, now, limit, n int64) (newTAT int64, allowed bool, retryAfter time.Duration, st State) {
	period := int64(Period)
	interval := max(period/limit, 1)
	tat = max(tat, now)
	next := tat + n*interval
	allowAt := next - period
	if now < allowAt {
		return tat, false, time.Duration(allowAt - now), State{Limit: limit, Remaining: (period - (tat - now)) / interval, Reset: time.Duration(tat - now)}
	}
	return next, true, 0, State{Limit: limit, Remaining: (period - (next - now)) / interval, Reset: time.Duration(next - now)}
}

// Adjust applies a token correction of delta units to tat without a check:
// positive delta moves tat later (debt), negative refunds but never below now.
func Adjust(tat, now, limit, delta int64) int64 {
	interval := max(int64(Period)/limit, 1)
	tat = max(tat, now) + delta*interval
	return max(tat, now)
}
