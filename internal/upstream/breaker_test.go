package upstream

import (
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_000_000, 0)} }

func TestBreakerTransitions(t *testing.T) {
	clk := newFakeClock()
	var changes []string
	b := NewBreaker(BreakerOptions{Now: clk.Now, OnChange: func(f, to BreakerState) {
		changes = append(changes, f.String()+">"+to.String())
	}})
	fail := func(n int) {
		for i := 0; i < n; i++ {
			if !b.Allow() {
				t.Fatalf("Allow refused in state %v", b.State())
			}
			b.Record(false)
		}
	}
	fail(4)
	if b.State() != BreakerClosed {
		t.Fatal("opened before 5 failures")
	}
	b.Allow()
	b.Record(true) // a success resets the count
	fail(4)
	if b.State() != BreakerClosed {
		t.Fatal("consecutive count not reset by a success")
	}
	fail(1)
	if b.State() != BreakerOpen || b.Allow() || b.Ready() {
		t.Fatal("not open after 5 consecutive failures")
	}
	clk.Advance(29 * time.Second)
	if b.Allow() {
		t.Fatal("allowed before recovery_timeout")
	}
	clk.Advance(time.Second)
	if b.State() != BreakerHalfOpen || !b.Ready() {
		t.Fatalf("state %v after recovery timeout", b.State())
	}
	if !b.Allow() {
		t.Fatal("half-open trial refused")
	}
	if b.Allow() {
		t.Fatal("second concurrent trial allowed; limit is 1")
	}
	b.Record(false) // trial failed: open again, for twice as long
	clk.Advance(30 * time.Second)
	if b.State() != BreakerOpen {
		t.Fatal("re-open did not double the recovery timeout")
	}
	clk.Advance(30 * time.Second)
	if !b.Allow() {
		t.Fatal("no trial after the doubled timeout")
	}
	b.Record(true)
	if b.State() != BreakerClosed {
		t.Fatal("successful trial did not close the breaker")
	}
	want := []string{"closed>open", "open>half_open", "half_open>open", "open>half_open", "half_open>closed"}
	if len(changes) != len(want) {
		t.Fatalf("changes %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Fatalf("changes %v, want %v", changes, want)
		}
	}
}

func TestBreakerErrorRatio(t *testing.T) {
	clk := newFakeClock()
	b := NewBreaker(BreakerOptions{Now: clk.Now, ErrorRatio: 0.5, MinRequests: 10, FailureThreshold: 100})
	for i := 0; i < 12; i++ { // alternate: never 5 in a row, but 50%+ failures
		b.Allow()
		b.Record(i%3 == 0)
	}
	if b.State() != BreakerOpen {
		t.Fatalf("state %v: ratio rule did not trip", b.State())
	}
}

func TestBreakerReleaseReturnsTrial(t *testing.T) {
	clk := newFakeClock()
	b := NewBreaker(BreakerOptions{Now: clk.Now, FailureThreshold: 1})
	b.Allow()
	b.Record(false)
	clk.Advance(30 * time.Second)
	if !b.Allow() {
		t.Fatal("trial refused")
	}
	b.Release()
	if !b.Allow() {
		t.Fatal("released trial not returned")
	}
}

// TestBreakerTripAndLateVerdicts: Trip opens at once (and from half-open
// doubles the recovery); Observe counts a verdict reached after the
// request's Release without touching the half-open trial count.
func TestBreakerTripAndLateVerdicts(t *testing.T) {
	clk := newFakeClock()
	b := NewBreaker(BreakerOptions{Now: clk.Now, FailureThreshold: 2, RecoveryTimeout: time.Second})
	b.Trip()
	if b.State() != BreakerOpen {
		t.Fatalf("Trip: state %v", b.State())
	}
	clk.Advance(time.Second)
	if !b.Allow() || b.State() != BreakerHalfOpen {
		t.Fatalf("no half-open trial after the recovery timeout: %v", b.State())
	}
	b.Release() // the trial's request was the client's fault
	if !b.Ready() {
		t.Fatal("a released trial must free the half-open slot")
	}
	b.Trip()
	clk.Advance(time.Second)
	if b.State() != BreakerOpen {
		t.Fatal("re-trip from half-open should double the recovery timeout")
	}
	clk.Advance(time.Second)
	if b.State() != BreakerHalfOpen {
		t.Fatalf("state %v after the doubled timeout", b.State())
	}

	c := NewBreaker(BreakerOptions{Now: clk.Now, FailureThreshold: 2})
	c.Allow()
	c.Release()
	c.Observe(false)
	if c.State() != BreakerClosed {
		t.Fatal("one late failure opened a threshold-2 breaker")
	}
	c.Observe(false)
	if c.State() != BreakerOpen {
		t.Fatal("two late failures must open a threshold-2 breaker")
	}
}
