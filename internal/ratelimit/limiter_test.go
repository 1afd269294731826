package ratelimit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/ratelimit/ratelimittest"
)

func TestMemoryConformance(t *testing.T) {
	shared := ratelimit.NewMemoryBackend()
	ratelimittest.Run(t, func(*testing.T) ratelimit.Backend { return shared })
}

// failingBackend always errors, like an unreachable Redis.
type failingBackend struct{}

func (failingBackend) Admit(context.Context, ratelimit.Admission) (ratelimit.Decision, error) {
	return ratelimit.Decision{}, errors.New("connection refused")
}

func (failingBackend) Settle(context.Context, ratelimit.Settlement) error {
	return errors.New("connection refused")
}

func TestFailPolicy(t *testing.T) {
	ctx := context.Background()
	lim := ratelimit.Limits{RPM: 10}
	tests := []struct {
		name     string
		failOpen bool
	}{{"open", true}, {"closed", false}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := ratelimit.New(ratelimit.Options{Backend: failingBackend{}, FailOpen: tt.failOpen})
			if err != nil {
				t.Fatal(err)
			}
			tk, err := l.Acquire(ctx, "k", lim, 1)
			st := l.Stats()
			if tt.failOpen {
				if err != nil || tk == nil {
					t.Fatalf("fail-open rejected: %v", err)
				}
				if err := tk.Done(ctx, 5); err != nil {
					t.Fatalf("Done after fail-open: %v", err)
				}
				if st.FailedOpen != 1 || st.BackendErrors != 1 {
					t.Fatalf("stats = %+v", st)
				}
				return
			}
			if !errors.Is(err, ratelimit.ErrBackendUnavailable) {
				t.Fatalf("fail-closed: got %v, want ErrBackendUnavailable", err)
			}
			if h := ratelimit.Headers(err); h.Get("Retry-After") != "1" {
				t.Fatalf("fail-closed headers = %v", h)
			}
			if st.FailedClosed != 1 {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
}

func TestUnlimitedSkipsBackend(t *testing.T) {
	l, _ := ratelimit.New(ratelimit.Options{Backend: failingBackend{}})
	if _, err := l.Acquire(context.Background(), "k", ratelimit.Limits{}, 100); err != nil {
		t.Fatalf("no limits configured: %v", err)
	}
}

func TestHeadersNotRateError(t *testing.T) {
	if h := ratelimit.Headers(errors.New("x")); h != nil {
		t.Fatalf("Headers(other error) = %v, want nil", h)
	}
}
