package pricing

import (
	"testing"
	"time"
)

// A simulator or local engine that serves deepseek-flash under that name
// is not billed at DeepSeek's cloud price; the operator's own prices still
// apply to it, scoped to the upstream or not.
func TestLocalUpstreamSkipsShippedPrices(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC) // a Saturday: off-peak
	b, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	cloud := Query{Upstream: "deepseek", UpstreamModel: "deepseek-flash", PublicModel: "deepseek-flash", Start: start}
	if _, ok := b.Price(cloud); !ok {
		t.Fatal("the DeepSeek cloud upstream is unpriced")
	}
	sim := Query{Upstream: "sim", UpstreamModel: "deepseek-flash", PublicModel: "deepseek-flash", Start: start, Local: true}
	if p, ok := b.Price(sim); ok {
		t.Fatalf("a local upstream billed at the shipped cloud price %+v", p)
	}

	b, err = New(Options{Models: []ModelPrice{
		{Model: "deepseek-flash", CacheHit: "0", CacheMiss: "0.01", Output: "0.02", Internal: true},
		{Model: "*", Upstream: "gpu", CacheHit: "0", CacheMiss: "0.03", Output: "0.04", Internal: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := b.Price(sim); !ok || p.Rates.CacheMiss != MustAmount("0.01") || !p.Internal {
		t.Errorf("configured unscoped price not applied to a local upstream: %+v %v", p, ok)
	}
	gpu := sim
	gpu.Upstream = "gpu"
	if p, ok := b.Price(gpu); !ok || p.Rates.CacheMiss != MustAmount("0.03") {
		t.Errorf("upstream-scoped price: %+v %v", p, ok)
	}
	other := sim
	other.UpstreamModel, other.PublicModel = "deepseek-v4-pro", "deepseek-v4-pro"
	if p, ok := b.Price(other); ok {
		t.Errorf("shipped deepseek-v4-pro price applied to a local upstream: %+v", p)
	}
}
