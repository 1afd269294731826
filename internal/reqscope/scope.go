// Package reqscope carries the per-request state that pipeline steps fill in
// and the access log, metrics and audit read at the end: one pointer in the
// context instead of a dozen context keys. It imports only the leaf
// package pricing.
package reqscope

import (
	"context"
	"time"

	"github.com/dsgate/dsgate/internal/pricing"
)

// Scope is the state of one request. It is owned by the request's
// goroutine; steps write fields, the observer reads them after the handler
// returns.
type Scope struct {
	RequestID string
	Start     time.Time
	Route     string // the route pattern, e.g. "POST /v1/chat/completions"
	Model     string // public model
	Upstream  string // upstream that answered
	Attempts  int
	Stream    bool
	// FirstToken is a stream's time from the start of the upstream
	// attempt that answered to its first data event.
	FirstToken time.Duration
	Principal  string // caller identity: key or client id
	Role       string
	Team       string // the principal's team, "" when none

	PromptTokens     int
	CompletionTokens int // reasoning tokens included
	CacheHitTokens   int
	ReasoningTokens  int // the chain-of-thought share of CompletionTokens

	CacheResult string // hit, miss, bypass; "" when the cache was not consulted
	CacheTier   string // the tier that hit

	// Cost is what the request cost and what caches saved, priced at
	// settlement from the real usage at the price in force when it
	// started. Priced is false when no price applied (an unpriced model,
	// a local engine without a configured price, no usage).
	Cost   pricing.Cost
	Priced bool
	// Metered is the principal kind the request's usage is recorded under
	// in the usage store ("key", "client"); "" when it is not (refused
	// before admission). The audit record carries it.
	Metered string

	// Input and Output are the request and response bodies, for the audit
	// record's hashes. They alias buffers that are never modified after
	// being set. A stream's Output stays nil; OutputSHA256 is computed as
	// the events pass instead.
	Input        []byte
	Output       []byte
	OutputSHA256 string

	ErrorType string // OpenAI error type of a failed request
	Err       error  // cause, for the log only

	// RenderError, when set by the transport's route adapter, writes err
	// as the request's answer through the one error table. Handlers
	// mounted from other packages call it instead of writing errors of
	// their own, so every route's errors have one shape.
	RenderError func(err error)
}

type key struct{}

// With returns a context carrying s.
func With(ctx context.Context, s *Scope) context.Context { return context.WithValue(ctx, key{}, s) }

// From returns the request's scope; a context without one yields a fresh
// scope so callers never check for nil.
func From(ctx context.Context) *Scope {
	if s, ok := ctx.Value(key{}).(*Scope); ok {
		return s
	}
	return fresh()
}

// fresh is From's scope for a context without one, made apart: From is
// inlined into its callers, and a Scope it made itself (400 bytes that do
// not escape) would be room in each caller's stack frame whether used or
// not. The handlers of a stream are a goroutine's whole stack for as long
// as the stream lasts (issue 22: memory per open stream).
//
//go:noinline
func fresh() *Scope { return new(Scope) }
