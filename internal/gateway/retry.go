package gateway

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/upstream"
)

// RetryBudget caps retries at a fraction of requests, so that retries
// cannot multiply the load on upstreams that are already failing (the
// Finagle/Envoy retry budget). Each request deposits Ratio tokens, each
// retry withdraws one; MinPerSecond retries are always allowed so a quiet
// gateway can still retry.
type RetryBudget struct {
	mu       sync.Mutex
	ratio    float64
	minRate  float64
	capacity float64
	tokens   float64
	last     time.Time
	now      func() time.Time
}

// NewRetryBudget returns a budget; ratio 0.2 allows retries on 20% of
// traffic.
func NewRetryBudget(ratio, minPerSecond float64, now func() time.Time) *RetryBudget {
	if now == nil {
		now = time.Now
	}
	// It starts with one second's worth of the minimum, not full, so a
	// burst of failures right after start cannot spend a whole reserve.
	capacity := max(10, minPerSecond*10)
	return &RetryBudget{ratio: ratio, minRate: minPerSecond, capacity: capacity, tokens: minPerSecond, last: now(), now: now}
}

// Deposit records one request.
func (b *RetryBudget) Deposit() {
	b.mu.Lock()
	b.refill()
	b.tokens = min(b.capacity, b.tokens+b.ratio)
	b.mu.Unlock()
}

// Withdraw asks for one retry.
func (b *RetryBudget) Withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill()
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *RetryBudget) refill() {
	now := b.now()
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(b.capacity, b.tokens+d.Seconds()*b.minRate)
		b.last = now
	}
}

// Step is one failed attempt, as reported to the client when all fail.
type Step struct {
	Model    string
	Upstream string
	Reason   string
	Blame    upstream.Blame // whose fault the failure was
}

// ExhaustedError means every target (and fallback model) was tried and
// failed, or the retry budget ran out.
type ExhaustedError struct {
	Steps []Step
	Last  error
}

func (e *ExhaustedError) Error() string {
	var b strings.Builder
	b.WriteString("all upstreams failed")
	for i, s := range e.Steps {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(s.Model)
		if s.Upstream != "" {
			b.WriteString(" via " + s.Upstream)
		}
		b.WriteString(": " + s.Reason)
	}
	return b.String()
}

func (e *ExhaustedError) Unwrap() error { return e.Last }

// AllRateLimited reports whether every step failed with 429, in which case
// the client is better told 429 than 503.
func (e *ExhaustedError) AllRateLimited() bool {
	if len(e.Steps) == 0 {
		return false
	}
	for _, s := range e.Steps {
		if !strings.HasPrefix(s.Reason, "HTTP 429") {
			return false
		}
	}
	return true
}

// AllAccount reports whether every step failed because an upstream
// refused the gateway's own credentials or account: the operator's
// problem, which the client is told as a 502.
func (e *ExhaustedError) AllAccount() bool {
	if len(e.Steps) == 0 {
		return false
	}
	for _, s := range e.Steps {
		if s.Blame != upstream.BlameAccount {
			return false
		}
	}
	return true
}

// backoff returns the wait before retry number n (1-based): full jitter
// over an exponential ceiling, stretched to the upstream's Retry-After when
// the retry goes back to the same upstream.
func (g *Gateway) backoff(n int, sameUpstream bool, lastErr error) time.Duration {
	ceiling := min(g.opts.RetryBackoff<<(n-1), g.opts.MaxRetryWait)
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	var ue *upstream.Error
	if sameUpstream && errors.As(lastErr, &ue) && ue.RetryAfter > d {
		d = min(ue.RetryAfter, g.opts.MaxRetryWait)
	}
	return d
}

// sleep waits d unless ctx ends first or its deadline is too close for a
// retry to be worth it.
func (g *Gateway) sleep(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d { // deadlines are wall-clock
		return false
	}
	if d <= 0 {
		return ctx.Err() == nil
	}
	return g.opts.Wait(ctx, d)
}

// wait is the default Options.Wait: a timer, cut short by ctx.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
