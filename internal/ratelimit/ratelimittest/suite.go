// Package ratelimittest is the conformance suite every ratelimit.Backend
// passes, driven through ratelimit.Limiter with a fake clock.
package ratelimittest

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/ratelimit"
)

// Clock is a settable clock for tests.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock starts at a fixed instant.
func NewClock() *Clock { return &Clock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

// Now returns the current fake time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// NewBackend returns a backend whose state is shared by every call within
// one test (like replicas sharing Redis) and that reads time from the
// Admission/Settlement (ClientTime for Redis). Keys must be unique per test;
// Key(t) provides them.
type NewBackend func(t *testing.T) ratelimit.Backend

// Key returns a key unique to the test.
func Key(t *testing.T) string { return t.Name() + "-" + time.Now().Format("150405.000000000") }

func newLimiter(t *testing.T, b ratelimit.Backend, c *Clock) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(ratelimit.Options{Backend: b, Clock: c.Now, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustRateError(t *testing.T, err error, dim ratelimit.Dimension) *ratelimit.Error {
	t.Helper()
	var e *ratelimit.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want *ratelimit.Error", err)
	}
	if e.Dimension != dim {
		t.Fatalf("rejected on %s, want %s", e.Dimension, dim)
	}
	return e
}

// Run runs the suite.
func Run(t *testing.T, newBackend NewBackend) {
	ctx := context.Background()
	t.Run("RPM", func(t *testing.T) {
		c := NewClock()
		l := newLimiter(t, newBackend(t), c)
		key, lim := Key(t), ratelimit.Limits{RPM: 60}
		for i := 0; i < 60; i++ {
			if _, err := l.Acquire(ctx, key, lim, 0); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		_, err := l.Acquire(ctx, key, lim, 0)
		e := mustRateError(t, err, ratelimit.Requests)
		if e.RetryAfter <= 0 || e.RetryAfter > time.Second || e.Limit != 60 || e.Remaining != 0 {
			t.Fatalf("error = %+v, want retry within 1s, limit 60, remaining 0", e)
		}
		c.Advance(time.Second)
		if _, err := l.Acquire(ctx, key, lim, 0); err != nil {
			t.Fatalf("after one interval: %v", err)
		}
		if _, err := l.Acquire(ctx, key+"-other", lim, 0); err != nil {
			t.Fatalf("other key: %v", err)
		}
	})
	t.Run("TPMReserveAndReconcile", func(t *testing.T) {
		c := NewClock()
		l := newLimiter(t, newBackend(t), c)
		key, lim := Key(t), ratelimit.Limits{TPM: 1000}
		tk, err := l.Acquire(ctx, key, lim, 800)
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Acquire(ctx, key, lim, 300)
		mustRateError(t, err, ratelimit.Tokens)
		if err := tk.Done(ctx, 100); err != nil { // 700 refunded
			t.Fatal(err)
		}
		if _, err := l.Acquire(ctx, key, lim, 300); err != nil {
			t.Fatalf("after refund: %v", err)
		}
		// 100+300 used; a request that used 600 more than it reserved puts
		// the key in debt.
		tk, err = l.Acquire(ctx, key, lim, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.Done(ctx, 700); err != nil {
			t.Fatal(err)
		}
		_, err = l.Acquire(ctx, key, lim, 1)
		mustRateError(t, err, ratelimit.Tokens)
	})
	t.Run("EstimateAboveTPMWaitsForFullBucket", func(t *testing.T) {
		c := NewClock()
		l := newLimiter(t, newBackend(t), c)
		key, lim := Key(t), ratelimit.Limits{TPM: 100}
		if _, err := l.Acquire(ctx, key, lim, 5000); err != nil {
			t.Fatalf("oversized estimate on full bucket: %v", err)
		}
		_, err := l.Acquire(ctx, key, lim, 5000)
		mustRateError(t, err, ratelimit.Tokens)
	})
	t.Run("RejectionConsumesNothing", func(t *testing.T) {
		c := NewClock()
		l := newLimiter(t, newBackend(t), c)
		key, lim := Key(t), ratelimit.Limits{RPM: 3, TPM: 100}
		if _, err := l.Acquire(ctx, key, lim, 100); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ {
			_, err := l.Acquire(ctx, key, lim, 10)
			mustRateError(t, err, ratelimit.Tokens)
		}
		for i := 0; i < 2; i++ { // two requests left despite five rejections
			if _, err := l.Acquire(ctx, key, lim, 0); err != nil {
				t.Fatalf("request %d: %v", i+2, err)
			}
		}
		_, err := l.Acquire(ctx, key, lim, 0)
		mustRateError(t, err, ratelimit.Requests)
	})
	t.Run("Concurrency", func(t *testing.T) {
		c := NewClock()
		l := newLimiter(t, newBackend(t), c)
		key, lim := Key(t), ratelimit.Limits{MaxConcurrent: 2}
		a, err := l.Acquire(ctx, key, lim, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Acquire(ctx, key, lim, 0); err != nil {
			t.Fatal(err)
		}
		_, err = l.Acquire(ctx, key, lim, 0)
		mustRateError(t, err, ratelimit.Concurrency)
		if err := a.Done(ctx, -1); err != nil {
			t.Fatal(err)
		}
		if err := a.Done(ctx, -1); err != nil { // second Done is a no-op
			t.Fatal(err)
		}
		if _, err := l.Acquire(ctx, key, lim, 0); err != nil {
			t.Fatalf("after release: %v", err)
		}
		_, err = l.Acquire(ctx, key, lim, 0)
		mustRateError(t, err, ratelimit.Concurrency)
	})
	t.Run("Headers", func(t *testing.T) {
		c := NewClock()
		l := newLimiter(t, newBackend(t), c)
		key, lim := Key(t), ratelimit.Limits{RPM: 2, TPM: 1000}
		tk, err := l.Acquire(ctx, key, lim, 10)
		if err != nil {
			t.Fatal(err)
		}
		if h := tk.Headers(); h.Get("X-Ratelimit-Remaining-Requests") != "1" || h.Get("X-Ratelimit-Remaining-Tokens") != "990" {
			t.Fatalf("ticket headers = %v", h)
		}
		_, _ = l.Acquire(ctx, key, lim, 10)
		_, err = l.Acquire(ctx, key, lim, 10)
		h := ratelimit.Headers(err)
		if h.Get("Retry-After") != "30" || h.Get("X-Ratelimit-Limit-Requests") != "2" ||
			h.Get("X-Ratelimit-Remaining-Requests") != "0" || h.Get("X-Ratelimit-Reset-Requests") != "1m0s" {
			t.Fatalf("429 headers = %v", h)
		}
	})
	t.Run("HugeLimitsHeaders", func(t *testing.T) {
		// Limits of 2^63-1 (the admin API accepts them as "unlimited")
		// once reported 0 remaining: the Redis script's float remaining
		// overflowed int64 on its way back.
		c := NewClock()
		l := newLimiter(t, newBackend(t), c)
		key, lim := Key(t), ratelimit.Limits{RPM: math.MaxInt64, TPM: math.MaxInt64}
		for i := range 3 {
			tk, err := l.Acquire(ctx, key, lim, 1000)
			if err != nil {
				t.Fatal(err)
			}
			h := tk.Headers()
			for _, dim := range []string{"Requests", "Tokens"} {
				limit, _ := strconv.ParseInt(h.Get("X-Ratelimit-Limit-"+dim), 10, 64)
				rem, err := strconv.ParseInt(h.Get("X-Ratelimit-Remaining-"+dim), 10, 64)
				if limit != math.MaxInt64 || err != nil || rem < 1_000_000_000 || rem > limit {
					t.Fatalf("request %d: %s headers %v; want the limit and a large remaining", i, dim, h)
				}
			}
		}
	})
	t.Run("ReplicasBurst", func(t *testing.T) {
		// Three limiters (replicas) over one shared backend; 400 requests at
		// once against 120 rpm. With a frozen clock exactly 120 pass.
		c := NewClock()
		key, lim := Key(t), ratelimit.Limits{RPM: 120}
		var limiters []*ratelimit.Limiter
		for i := 0; i < 3; i++ {
			limiters = append(limiters, newLimiter(t, newBackend(t), c))
		}
		admitted := Burst(ctx, limiters, key, lim, 400)
		if admitted != 120 {
			t.Fatalf("admitted %d of 400, want 120", admitted)
		}
	})
}

// Burst sends n concurrent requests spread round-robin over limiters and
// returns how many were admitted; it fails on errors other than *Error.
func Burst(ctx context.Context, limiters []*ratelimit.Limiter, key string, lim ratelimit.Limits, n int) int {
	var admitted atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(l *ratelimit.Limiter) {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := l.Acquire(ctx, key, lim, 0); err == nil {
				admitted.Add(1)
			}
		}(limiters[i%len(limiters)])
	}
	wg.Wait()
	return int(admitted.Load())
}
