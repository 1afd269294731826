package pricing

import (
	"math"
	"testing"
)

func TestPriceRounding(t *testing.T) {
	// $0.0028 per million (V4 Flash cache hits before August 2026): one
	// token costs 2.8 nano-units; half-to-even rounding keeps the sum of
	// many requests unbiased.
	r := Rates{CacheHit: MustAmount("0.0028"), CacheMiss: MustAmount("0.14"), Output: MustAmount("0.28")}
	tests := []struct {
		u    Usage
		want Amount
	}{
		{Usage{PromptTokens: 1, CacheHitTokens: 1}, 3},  // 2.8 -> 3
		{Usage{PromptTokens: 5, CacheHitTokens: 5}, 14}, // 14.0
		{Usage{PromptTokens: 1000, CacheHitTokens: 1000}, 2800},
		{Usage{CompletionTokens: 1}, 280},
	}
	for _, tt := range tests {
		if got, _ := price(r, tt.u); got != tt.want {
			t.Errorf("price(%+v) = %d, want %d", tt.u, got, tt.want)
		}
	}
	half := Rates{Output: 2_500_000} // 2.5 nano-units per token
	for _, tt := range []struct {
		out  int64
		want Amount
	}{{1, 2}, {3, 8}, {2, 5}} { // 2.5 -> 2, 7.5 -> 8, 5.0
		if got, _ := price(half, Usage{CompletionTokens: tt.out}); got != tt.want {
			t.Errorf("%d tokens at 2.5: %d, want %d", tt.out, got, tt.want)
		}
	}
}

func TestPriceMalformedUsage(t *testing.T) {
	r := Rates{CacheHit: MustAmount("0.1"), CacheMiss: MustAmount("1"), Output: MustAmount("2")}
	// More cache hits than prompt tokens: hits are capped at the prompt.
	got, saved := price(r, Usage{PromptTokens: 10, CacheHitTokens: 50, CompletionTokens: 0})
	if got != 1000 || saved != 9000 {
		t.Errorf("capped hits: %d saved %d", got, saved)
	}
	// Negative counts count as zero.
	if got, saved := price(r, Usage{PromptTokens: -5, CacheHitTokens: -1, CompletionTokens: -9}); got != 0 || saved != 0 {
		t.Errorf("negative usage: %d saved %d", got, saved)
	}
	// A cache-hit price above the miss price saves nothing (not negative).
	odd := Rates{CacheHit: 2, CacheMiss: 1}
	if _, saved := price(odd, Usage{PromptTokens: 10, CacheHitTokens: 10}); saved != 0 {
		t.Errorf("saved %d", saved)
	}
}

func TestPriceSaturates(t *testing.T) {
	r := Rates{CacheMiss: MaxAmount, Output: MaxAmount}
	got, _ := price(r, Usage{PromptTokens: math.MaxInt64, CompletionTokens: math.MaxInt64})
	if got != MaxAmount {
		t.Errorf("huge = %d, want MaxAmount", got)
	}
	// Large but representable: a million output tokens at 9 billion per
	// million is 9 billion.
	big := Rates{Output: 9_000_000_000 * Nano}
	if got, _ := price(big, Usage{CompletionTokens: 1_000_000}); got != 9_000_000_000*Nano {
		t.Errorf("big = %d", got)
	}
	if satAdd(MaxAmount, 1) != MaxAmount || satAdd(-MaxAmount-1, -1) != -MaxAmount-1 || satAdd(2, 3) != 5 {
		t.Error("satAdd")
	}
}

func TestReplayedAndUndiscounted(t *testing.T) {
	c := Cost{Amount: 624_000, Saved: 1_176_000, Currency: USD, Window: "off-peak"}
	if c.Undiscounted() != 1_800_000 {
		t.Errorf("undiscounted = %s", c.Undiscounted())
	}
	r := c.Replayed()
	if r.Amount != 0 || r.Saved != 624_000 || r.Currency != USD || r.Window != "off-peak" {
		t.Errorf("replayed = %+v", r)
	}
	if r.Header() != "0.000000 USD" {
		t.Errorf("replayed header = %q", r.Header())
	}
}

// Summing per-request costs is exact integer arithmetic: a report over
// stored costs equals the sum of the audit records, whatever the order.
func TestSumsReconcile(t *testing.T) {
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := Query{UpstreamModel: "deepseek-flash", Start: mustTime(t, "2026-12-03T10:00:00+08:00")}
	var sum, rev Amount
	var costs []Amount
	for i := int64(1); i <= 10_000; i++ {
		c, _ := b.Quote(q, Usage{PromptTokens: i * 7, CacheHitTokens: i * 3, CompletionTokens: i % 97})
		costs = append(costs, c.Amount)
		sum += c.Amount
	}
	for i := len(costs) - 1; i >= 0; i-- {
		rev += costs[i]
	}
	if sum != rev {
		t.Fatalf("sum %s != reverse sum %s", sum, rev)
	}
	// And it is within half a nano-unit per request of the exact total:
	// sum over i of (i*3*6000 + i*4*300000 + (i%97)*1200000) / 1e6.
	var exact u128
	for i := uint64(1); i <= 10_000; i++ {
		exact.addMul(i*3, 6_000_000)
		exact.addMul(i*4, 300_000_000)
		exact.addMul(i%97, 1_200_000_000)
	}
	want := exact.perMillion()
	if d := sum - want; d > 5000 || d < -5000 {
		t.Errorf("sum %s vs exact %s: off by %d nano-units", sum, want, d)
	}
}
