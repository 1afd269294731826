package upstream

import (
	"sync"
	"time"
)

// BreakerState is a circuit breaker's state.
type BreakerState int

// The states, in the order of the dsgate_upstream_breaker_state gauge.
const (
	BreakerClosed BreakerState = iota
	BreakerHalfOpen
	BreakerOpen
)

func (s BreakerState) String() string {
	return [...]string{"closed", "half_open", "open"}[s]
}

// BreakerOptions configure a Breaker. It is also dsgate's passive health
// check: a target that fails repeatedly, or too often within a window, is
// ejected, and each consecutive ejection lasts twice as long as the last.
type BreakerOptions struct {
	// FailureThreshold consecutive failures open the breaker. Default 5.
	FailureThreshold int
	// ErrorRatio opens the breaker when failures/requests in Window exceed
	// it, once MinRequests were seen. 0 disables the ratio rule.
	ErrorRatio  float64
	Window      time.Duration // default 10s
	MinRequests int           // default 20
	// RecoveryTimeout is how long the breaker stays open before half-open
	// trials. Default 30s. It doubles on each re-open, up to MaxRecovery.
	RecoveryTimeout time.Duration
	MaxRecovery     time.Duration // default 5m
	// HalfOpenRequests trial requests run in half-open. Default 1.
	HalfOpenRequests int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// OnChange is called (outside the lock) after every state change.
	OnChange func(from, to BreakerState)
}

// Breaker is a per-target circuit breaker. Safe for concurrent use.
type Breaker struct {
	o        BreakerOptions
	mu       sync.Mutex
	state    BreakerState
	consec   int
	openedAt time.Time
	backoff  time.Duration // current recovery timeout
	trials   int           // half-open requests in flight
	winStart time.Time
	winReqs  int
	winFails int
}

// NewBreaker returns a closed breaker.
func NewBreaker(o BreakerOptions) *Breaker {
	if o.FailureThreshold <= 0 {
		o.FailureThreshold = 5
	}
	if o.RecoveryTimeout <= 0 {
		o.RecoveryTimeout = 30 * time.Second
	}
	if o.MaxRecovery < o.RecoveryTimeout {
		o.MaxRecovery = max(5*time.Minute, o.RecoveryTimeout)
	}
	if o.HalfOpenRequests <= 0 {
		o.HalfOpenRequests = 1
	}
	if o.Window <= 0 {
		o.Window = 10 * time.Second
	}
	if o.MinRequests <= 0 {
		o.MinRequests = 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Breaker{o: o, backoff: o.RecoveryTimeout}
}

// State reports the current state; an open breaker past its recovery
// timeout reports half-open.
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stateLocked(b.o.Now())
}

// RetryAt is when an open breaker turns half-open and lets a trial
// request through; zero when it is not open.
func (b *Breaker) RetryAt() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stateLocked(b.o.Now()) != BreakerOpen {
		return time.Time{}
	}
	return b.openedAt.Add(b.backoff)
}

func (b *Breaker) stateLocked(now time.Time) BreakerState {
	if b.state == BreakerOpen && now.Sub(b.openedAt) >= b.backoff {
		return BreakerHalfOpen
	}
	return b.state
}

// Ready reports, without side effects, whether Allow could succeed now.
func (b *Breaker) Ready() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state == BreakerClosed { // the common case needs no clock
		return true
	}
	switch b.stateLocked(b.o.Now()) {
	case BreakerClosed:
		return true
	case BreakerHalfOpen:
		return b.trials < b.o.HalfOpenRequests
	}
	return false
}

// Allow reserves the right to send one request. In half-open it hands out
// at most HalfOpenRequests trials. Every true must be followed by exactly
// one Record.
func (b *Breaker) Allow() bool {
	b.mu.Lock()
	now := b.o.Now()
	from := b.state
	st := b.stateLocked(now)
	ok := false
	switch st {
	case BreakerClosed:
		ok = true
	case BreakerHalfOpen:
		b.state = BreakerHalfOpen
		if b.trials < b.o.HalfOpenRequests {
			b.trials++
			ok = true
		}
	}
	b.mu.Unlock()
	b.changed(from, st)
	return ok
}

// Release undoes an Allow whose request was never judged (for example the
// client went away).
func (b *Breaker) Release() {
	b.mu.Lock()
	if b.state == BreakerHalfOpen && b.trials > 0 {
		b.trials--
	}
	b.mu.Unlock()
}

// Record reports the outcome of an allowed request.
func (b *Breaker) Record(success bool) { b.record(success, true) }

// Observe reports an outcome judged after the request's Record or Release
// (the trial it held, if any, is already returned).
func (b *Breaker) Observe(success bool) { b.record(success, false) }

// Trip opens the breaker now, whatever its state: the upstream cannot
// serve anyone until something outside changes (its credentials). From
// half-open the recovery timeout doubles as on any re-open.
func (b *Breaker) Trip() {
	b.mu.Lock()
	now := b.o.Now()
	from := b.stateLocked(now)
	if from != BreakerOpen {
		b.open(now, from == BreakerHalfOpen)
	}
	b.mu.Unlock()
	b.changed(from, BreakerOpen)
}

func (b *Breaker) record(success, trial bool) {
	b.mu.Lock()
	now := b.o.Now()
	from := b.state
	if trial && b.state == BreakerHalfOpen && b.trials > 0 {
		b.trials--
	}
	b.countWindow(now, success)
	switch {
	case success && b.state == BreakerHalfOpen:
		b.state, b.consec, b.backoff = BreakerClosed, 0, b.o.RecoveryTimeout
		b.resetWindow(now)
	case success:
		b.consec = 0
	case b.state == BreakerHalfOpen:
		b.open(now, true)
	case b.state == BreakerClosed:
		b.consec++
		if b.consec >= b.o.FailureThreshold || b.ratioTripped() {
			b.open(now, false)
		}
	}
	to := b.state
	b.mu.Unlock()
	b.changed(from, to)
}

func (b *Breaker) open(now time.Time, again bool) {
	if again {
		b.backoff = min(2*b.backoff, b.o.MaxRecovery)
	}
	b.state, b.openedAt, b.consec = BreakerOpen, now, 0
	b.resetWindow(now)
}

func (b *Breaker) countWindow(now time.Time, success bool) {
	if now.Sub(b.winStart) > b.o.Window {
		b.resetWindow(now)
	}
	b.winReqs++
	if !success {
		b.winFails++
	}
}

func (b *Breaker) resetWindow(now time.Time) { b.winStart, b.winReqs, b.winFails = now, 0, 0 }

func (b *Breaker) ratioTripped() bool {
	return b.o.ErrorRatio > 0 && b.winReqs >= b.o.MinRequests &&
		float64(b.winFails)/float64(b.winReqs) > b.o.ErrorRatio
}

func (b *Breaker) changed(from, to BreakerState) {
	if from != to && b.o.OnChange != nil {
		b.o.OnChange(from, to)
	}
}
