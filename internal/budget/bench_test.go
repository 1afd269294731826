package budget_test

import (
	"context"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/budget"
	"github.com/dsgate/dsgate/internal/pricing"
)

// BenchmarkPricingAndBudgets is the money work the request path adds to
// one request with the memory backend: resolve the price (shipped
// DeepSeek book, peak windows and holidays), reserve the estimate against
// a key's daily budget and its team's monthly one, price the real usage
// and settle. The target is under 3 µs.
func BenchmarkPricingAndBudgets(b *testing.B) {
	book, err := pricing.New(pricing.Options{})
	if err != nil {
		b.Fatal(err)
	}
	cal, err := pricing.NewCalendar(pricing.CalendarOptions{TimeZone: "Asia/Shanghai"})
	if err != nil {
		b.Fatal(err)
	}
	bs, err := budget.New(budget.Options{Calendar: cal, Rules: []budget.Rule{
		{Subject: "key:k1", Period: pricing.Day, Amount: pricing.MustAmount("1000000"), Currency: pricing.USD},
		{Subject: "team:research", Period: pricing.Month, Amount: pricing.MustAmount("1000000"), Currency: pricing.USD},
	}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	subjects := []string{"key:k1", "team:research"}
	start := time.Date(2026, 12, 3, 2, 0, 0, 0, time.UTC) // peak in Beijing
	q := pricing.Query{Upstream: "deepseek", UpstreamModel: "deepseek-flash", PublicModel: "deepseek-flash", Start: start}
	u := pricing.Usage{PromptTokens: 1200, CacheHitTokens: 800, CompletionTokens: 350}
	b.ReportAllocs()
	for b.Loop() {
		p, ok := book.Price(q)
		if !ok {
			b.Fatal("unpriced")
		}
		r, err := bs.Reserve(ctx, subjects, p.Currency, p.MaxCost(4000, 1024), start)
		if err != nil || r == nil {
			b.Fatal(err)
		}
		c := p.Cost(u)
		if err := r.Settle(ctx, c.Amount); err != nil {
			b.Fatal(err)
		}
	}
}
