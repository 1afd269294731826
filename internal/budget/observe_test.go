package budget_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/budget"
	"github.com/dsgate/dsgate/internal/pricing"
)

// ratios records the observer's last ratio per budget.
type ratios struct {
	mu sync.Mutex
	m  map[string]float64
}

func (r *ratios) Spent(rule string, ratio float64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[rule] = ratio
}

func (r *ratios) Exhausted(string) {}

func (r *ratios) get(rule string) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[rule]
}

// TestObserveResetsRatioAtRollover: the spent ratio set at admission
// must fall back to 0 once the period rolls over, without any request,
// so that the 80% alert clears.
func TestObserveResetsRatioAtRollover(t *testing.T) {
	obs := &ratios{m: map[string]float64{}}
	rule := budget.Rule{Subject: "team:research", Period: pricing.Day, Amount: pricing.MustAmount("10"), Currency: "USD"}
	bs, err := budget.New(budget.Options{Rules: []budget.Rule{rule}, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	day1 := time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC)
	res, err := bs.Reserve(ctx, []string{"team:research"}, "USD", pricing.MustAmount("9"), day1)
	if err != nil || res == nil {
		t.Fatalf("reserve: %v %v", res, err)
	}
	if err := res.Settle(ctx, pricing.MustAmount("8.5")); err != nil {
		t.Fatal(err)
	}
	if got := obs.get(rule.Name()); got != 0.9 {
		t.Fatalf("ratio at admission = %v, want 0.9", got)
	}
	// Same day: the settled figure replaces the reservation.
	if err := bs.Observe(ctx, day1.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := obs.get(rule.Name()); got != 0.85 {
		t.Fatalf("ratio later that day = %v, want 0.85", got)
	}
	// Next day, no request at all: the ratio is the new period's, 0.
	if err := bs.Observe(ctx, day1.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := obs.get(rule.Name()); got != 0 {
		t.Fatalf("ratio after rollover = %v, want 0", got)
	}
}
