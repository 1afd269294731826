//go:build !race

package ratelimit_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/ratelimit"
)

// Allocation counts of the per-request rate-limit path (bench/cpu,
// issue 22). The race detector allocates, so these build without it;
// scripts/test.sh runs them in its "-run Allocs" step.

func TestSetStatusHeadersAllocs(t *testing.T) {
	h := http.Header{}
	st := ratelimit.State{Limit: 100000, Remaining: 99999, Reset: 1500 * time.Millisecond}
	got := testing.AllocsPerRun(100, func() { ratelimit.SetStatusHeaders(h, st, st) })
	// One backing array for the six values, plus the three formatted
	// values (limit, remaining, reset) of each of the two limits.
	if got > 7 {
		t.Fatalf("SetStatusHeaders: %.0f allocations, want at most 7 (12 with one slice per header)", got)
	}
	if h.Get("X-Ratelimit-Limit-Requests") != "100000" || h.Get("X-Ratelimit-Reset-Tokens") != "1.5s" {
		t.Fatalf("headers = %v", h)
	}
	// A later Add must not write into the shared backing array.
	h.Add("X-Ratelimit-Limit-Requests", "x")
	if h.Get("X-Ratelimit-Remaining-Requests") != "99999" {
		t.Fatalf("Add overwrote a neighbour: %v", h)
	}
}

func TestMemoryLimiterAllocs(t *testing.T) {
	l, err := ratelimit.New(ratelimit.Options{Backend: ratelimit.NewMemoryBackend()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	limits := ratelimit.Limits{RPM: 1 << 40, TPM: 1 << 50, MaxConcurrent: 1 << 20}
	got := testing.AllocsPerRun(200, func() {
		tk, err := l.Acquire(ctx, "key:k1", limits, 100)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(ctx, 40)
	})
	// The ticket and its concurrency id; no timeout context around the
	// in-memory backend (that was 11 allocations and two timers).
	if got > 2 {
		t.Fatalf("Acquire+Done on the memory backend: %.0f allocations, want at most 2", got)
	}
}
