// Package budgettest is the conformance suite every budget.Backend must
// pass, and the concurrent burst that bounds a budget's overshoot.
package budgettest

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/budget"
	"github.com/dsgate/dsgate/internal/pricing"
)

// Run runs the suite; open returns a fresh, empty backend each time (for a
// shared store: one with its own key prefix).
func Run(t *testing.T, open func(t *testing.T) budget.Backend) {
	t.Run("ExhaustAndReset", func(t *testing.T) { testExhaustAndReset(t, open(t)) })
	t.Run("SettleReplacesReservation", func(t *testing.T) { testSettle(t, open(t)) })
	t.Run("AllOrNothing", func(t *testing.T) { testAllOrNothing(t, open(t)) })
	t.Run("Burst", func(t *testing.T) {
		b := open(t)
		Burst(t, []budget.Backend{b, b, b})
	})
}

// noon on a Thursday.
var noon = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func usd(s string) pricing.Amount { return pricing.MustAmount(s) }

func newBudgets(t *testing.T, b budget.Backend, rules ...budget.Rule) *budget.Budgets {
	t.Helper()
	bs, err := budget.New(budget.Options{Rules: rules, Backend: b})
	if err != nil {
		t.Fatal(err)
	}
	return bs
}

func testExhaustAndReset(t *testing.T, b budget.Backend) {
	ctx := context.Background()
	bs := newBudgets(t, b, budget.Rule{Subject: "key:k", Period: pricing.Day, Amount: usd("1"), Currency: pricing.USD})
	subj := []string{"key:k"}
	for i := range 4 { // 4 x 0.25 reaches the budget exactly
		r, err := bs.Reserve(ctx, subj, pricing.USD, usd("0.25"), noon)
		if err != nil || r == nil {
			t.Fatalf("reserve %d: %v %v", i, r, err)
		}
		if want := i >= 3; (len(r.Warnings) > 0) != want { // 0.8 reached at the 4th
			t.Errorf("reserve %d: warnings %v", i, r.Warnings)
		}
		if err := r.Settle(ctx, usd("0.25")); err != nil {
			t.Fatal(err)
		}
	}
	_, err := bs.Reserve(ctx, subj, pricing.USD, usd("0.01"), noon)
	var ex *budget.ExhaustedError
	if !errors.As(err, &ex) {
		t.Fatalf("over budget: %v", err)
	}
	if want := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC); !ex.Reset.Equal(want) || ex.Spent != usd("1") {
		t.Errorf("exhausted %+v, want reset %v", ex, want)
	}
	// Other currencies and other subjects are not charged to it.
	if r, err := bs.Reserve(ctx, subj, pricing.CNY, usd("1"), noon); r != nil || err != nil {
		t.Errorf("CNY request charged to a USD budget: %v %v", r, err)
	}
	if r, err := bs.Reserve(ctx, []string{"key:other"}, pricing.USD, usd("1"), noon); r != nil || err != nil {
		t.Errorf("another key charged: %v %v", r, err)
	}
	// The next day starts from zero.
	r, err := bs.Reserve(ctx, subj, pricing.USD, usd("0.5"), noon.Add(24*time.Hour))
	if err != nil || r == nil || len(r.Warnings) != 0 {
		t.Fatalf("next day: %v %v", r, err)
	}
}

func testSettle(t *testing.T, b budget.Backend) {
	ctx := context.Background()
	bs := newBudgets(t, b, budget.Rule{Subject: "client:c", Period: pricing.Month, Amount: usd("10"), Currency: pricing.USD})
	r, err := bs.Reserve(ctx, []string{"client:c"}, pricing.USD, usd("3"), noon)
	if err != nil {
		t.Fatal(err)
	}
	st, err := bs.Status(ctx, []string{"client:c"}, noon)
	if err != nil || len(st) != 1 || st[0].Spent != usd("3") {
		t.Fatalf("reserved: %+v %v", st, err)
	}
	if err := r.Settle(ctx, usd("0.123456789")); err != nil {
		t.Fatal(err)
	}
	r.Settle(ctx, usd("5")) // twice: no-op
	st, err = bs.Status(ctx, []string{"client:c"}, noon)
	if err != nil || st[0].Spent != usd("0.123456789") {
		t.Fatalf("settled: %+v %v", st, err)
	}
	if !st[0].Start.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) || !st[0].Reset.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("month bounds %v %v", st[0].Start, st[0].Reset)
	}
}

// A key's budget and its team's are reserved together or not at all.
func testAllOrNothing(t *testing.T, b budget.Backend) {
	ctx := context.Background()
	bs := newBudgets(t, b,
		budget.Rule{Subject: "key:k", Period: pricing.Day, Amount: usd("10"), Currency: pricing.USD},
		budget.Rule{Subject: "team:t", Period: pricing.Week, Amount: usd("1"), Currency: pricing.USD})
	subj := []string{"key:k", "team:t"}
	r, err := bs.Reserve(ctx, subj, pricing.USD, usd("1"), noon)
	if err != nil {
		t.Fatal(err)
	}
	r.Settle(ctx, usd("1"))
	_, err = bs.Reserve(ctx, subj, pricing.USD, usd("1"), noon)
	var ex *budget.ExhaustedError
	if !errors.As(err, &ex) || ex.Rule.Subject != "team:t" {
		t.Fatalf("team budget: %v", err)
	}
	st, _ := bs.Status(ctx, []string{"key:k"}, noon)
	if st[0].Spent != usd("1") {
		t.Errorf("the refused request reserved on the key anyway: %s", st[0].Spent)
	}
}

// Burst sends a concurrent burst of requests through one Budgets per
// backend (replicas sharing a store when the backends are the same store)
// against one budget, each reserving 0.03 and costing 0.03, 0.02 or 0.01
// (never more than its estimate), and checks the bound the package
// documents: final spend < limit + the largest single reservation, and
// spend equal to the sum of the admitted requests' real costs. It reports
// the figures.
func Burst(t *testing.T, backends []budget.Backend) {
	ctx := context.Background()
	const (
		perReplica = 50     // concurrent clients per replica
		limit      = "1"    // USD
		estimate   = "0.03" // each request's reservation
	)
	actuals := []pricing.Amount{usd("0.03"), usd("0.02"), usd("0.01")}
	var total atomic.Int64 // the admitted requests' real costs
	rule := budget.Rule{Subject: "team:burst", Period: pricing.Day, Amount: usd(limit), Currency: pricing.USD}
	var admitted, refused atomic.Int64
	var inFlight, maxInFlight atomic.Int64
	var wg sync.WaitGroup
	replicas := make([]*budget.Budgets, len(backends))
	for i, b := range backends {
		replicas[i] = newBudgets(t, b, rule)
	}
	errs := make(chan error, len(backends)*perReplica)
	for ri, bs := range replicas {
		for i := range perReplica {
			wg.Add(1)
			go func() { // one client: requests one after another until refused
				defer wg.Done()
				for n := 0; ; n++ {
					actual := actuals[(ri+i+n)%len(actuals)]
					r, err := bs.Reserve(ctx, []string{"team:burst"}, pricing.USD, usd(estimate), noon)
					var ex *budget.ExhaustedError
					if errors.As(err, &ex) {
						refused.Add(1)
						return
					}
					if err != nil {
						errs <- err
						return
					}
					admitted.Add(1)
					cur := inFlight.Add(1)
					for {
						m := maxInFlight.Load()
						if cur <= m || maxInFlight.CompareAndSwap(m, cur) {
							break
						}
					}
					time.Sleep(time.Duration(n%3) * time.Millisecond) // the upstream call
					inFlight.Add(-1)
					total.Add(int64(actual))
					if err := r.Settle(ctx, actual); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st, err := replicas[0].Status(ctx, []string{"team:burst"}, noon)
	if err != nil {
		t.Fatal(err)
	}
	spent := st[0].Spent
	if want := pricing.Amount(total.Load()); spent != want {
		t.Errorf("spent %s, want exactly %s, the sum of the admitted requests' costs", spent, want)
	}
	bound := usd(limit) + usd(estimate)
	if spent >= bound {
		t.Errorf("spent %s with limit %s: overshoot beyond one reservation (%s)", spent, limit, estimate)
	}
	if refused.Load() == 0 {
		t.Errorf("nothing refused: the burst of %d never reached the limit %s", admitted.Load(), limit)
	}
	t.Logf("%d replicas x %d clients: %d admitted, %d refused; spent %s of %s (overshoot %s, bound < %s); at most %d in flight",
		len(backends), perReplica, admitted.Load(), refused.Load(), spent, limit, spent-usd(limit), estimate, maxInFlight.Load())
}
