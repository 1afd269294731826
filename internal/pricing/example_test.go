package pricing_test

import (
	"fmt"
	"time"

	"github.com/dsgate/dsgate/internal/pricing"
)

// The request path: resolve the price when the request starts, reserve the
// worst case, settle the real usage, send the header.
func ExampleBook_Price() {
	book, err := pricing.New(pricing.Options{DefaultsCurrency: "USD"})
	if err != nil {
		panic(err)
	}
	start := time.Date(2026, 12, 3, 8, 59, 30, 0, time.FixedZone("CST", 8*3600)) // off-peak, 30 s before the peak
	p, ok := book.Price(pricing.Query{Upstream: "deepseek", UpstreamModel: "deepseek-flash", PublicModel: "chat", Start: start})
	if !ok {
		panic("unpriced")
	}
	fmt.Println("reserve", p.MaxCost(10_000, 4_096))
	// ... the request streams into the peak window; it is still charged at p.
	c := p.Cost(pricing.Usage{PromptTokens: 10_000, CacheHitTokens: 8_000, CompletionTokens: 500})
	fmt.Println(pricing.HeaderName+":", c.Header())
	fmt.Println("window", c.Window, "saved", c.Saved)

	cal, _ := pricing.NewCalendar(pricing.CalendarOptions{TimeZone: "Asia/Shanghai"})
	_, reset := cal.Bounds(pricing.Month, start)
	fmt.Println(cal.Key(pricing.Month, start), "resets", reset.UTC().Format(time.RFC3339))
	// Output:
	// reserve 0.0039576
	// X-Dsgate-Cost: 0.000624 USD
	// window off-peak saved 0.001176
	// month:2026-12-01 resets 2026-12-31T16:00:00Z
}
