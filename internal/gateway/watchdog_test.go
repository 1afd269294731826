package gateway

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/upstream"
)

// The watchdog's timer is not reset at every event (issue 22): an event
// notes its time and the timer, when it fires, waits out the rest of the
// idle timeout. A stream whose events come more often than the timeout
// runs on however long it lasts; once they stop, it is cut as stalled, an
// idle timeout or more after the last one (measured on the same monotonic
// clock, from before that event: no bound on how late).
func TestWatchdogIdleCountsFromTheLastEvent(t *testing.T) {
	t.Parallel()
	const idle = time.Second // the events' sleeps are a tenth of it: a busy machine's stall is no gap
	u := upstream.New(upstream.Options{Name: "u", Kind: upstream.KindOpenAI, URL: "http://127.0.0.1:1",
		FirstTokenTimeout: idle, IdleTimeout: idle})
	ctx, w := newWatchdog(context.Background(), u)
	defer w.stop()
	// Events for two timeouts, one every tenth of a timeout.
	for range 20 {
		w.progress()
		time.Sleep(idle / 10)
		if err := context.Cause(ctx); err != nil {
			t.Fatalf("cut while events came every %v: %v", idle/10, err)
		}
	}
	last := time.Now()
	w.progress()
	<-ctx.Done()
	if quiet := time.Since(last); quiet < idle {
		t.Errorf("cut %v after the last event, before the idle timeout (%v)", quiet, idle)
	}
	if err := context.Cause(ctx); !errors.Is(err, ErrStalled) {
		t.Errorf("cause %v, want ErrStalled", err)
	}
}

// Before the first event the first-token timeout applies, and names
// itself.
func TestWatchdogFirstToken(t *testing.T) {
	t.Parallel()
	u := upstream.New(upstream.Options{Name: "u", Kind: upstream.KindOpenAI, URL: "http://127.0.0.1:1",
		FirstTokenTimeout: 20 * time.Millisecond, IdleTimeout: time.Hour})
	ctx, w := newWatchdog(context.Background(), u)
	defer w.stop()
	<-ctx.Done()
	if err := context.Cause(ctx); !errors.Is(err, ErrFirstToken) {
		t.Errorf("cause %v, want ErrFirstToken", err)
	}
}

// BenchmarkWatchdogProgress is the watchdog's cost a streamed event.
func BenchmarkWatchdogProgress(b *testing.B) {
	u := upstream.New(upstream.Options{Name: "u", Kind: upstream.KindOpenAI, URL: "http://127.0.0.1:1",
		FirstTokenTimeout: time.Hour, IdleTimeout: time.Hour})
	_, w := newWatchdog(context.Background(), u)
	defer w.stop()
	for b.Loop() {
		w.progress()
	}
}
