package upstream

import (
	"testing"
	"time"
)

// A drained upstream is not Available (policies skip it) until re-enabled,
// and its status says so.
func TestDrain(t *testing.T) {
	u := New(Options{Name: "a", Kind: "openai", URL: "http://127.0.0.1:1"})
	if !u.Available() {
		t.Fatal("new upstream not available")
	}
	u.SetDrained(true)
	if u.Available() || !u.Drained() || !u.Status().Drained {
		t.Fatal("drained upstream still available")
	}
	u.SetDrained(false)
	if !u.Available() || u.Status().Drained {
		t.Fatal("re-enabled upstream not available")
	}
}

// RetryAt is when an open breaker lets its next trial through.
func TestBreakerRetryAt(t *testing.T) {
	clk := newFakeClock()
	b := NewBreaker(BreakerOptions{Now: clk.Now, FailureThreshold: 1, RecoveryTimeout: 30 * time.Second})
	if !b.RetryAt().IsZero() {
		t.Fatal("closed breaker has a retry time")
	}
	b.Allow()
	b.Record(false)
	if got, want := b.RetryAt(), clk.Now().Add(30*time.Second); !got.Equal(want) {
		t.Fatalf("RetryAt = %v, want %v", got, want)
	}
	clk.Advance(30 * time.Second)
	if !b.RetryAt().IsZero() {
		t.Fatal("half-open breaker has a retry time")
	}
}
