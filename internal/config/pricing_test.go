package config

import (
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/pricing"
)

const pricingBase = `
upstreams:
  - name: engine
    kind: sim
models:
  - name: deepseek-flash
    targets: [{upstream: engine, model: deepseek-flash}]
`

func TestPricingSection(t *testing.T) {
	c, err := Parse(strings.NewReader(pricingBase + `
pricing:
  defaults_currency: CNY
  models:
    - model: "*"
      upstream: engine
      internal: true
      currency: USD
      cache_hit: "0"
      cache_miss: "0.05"
      output: "0.10"
`))
	if err != nil {
		t.Fatal(err)
	}
	book, err := c.Pricing.Book()
	if err != nil || book == nil {
		t.Fatalf("book %v %v", book, err)
	}
	p, ok := book.Price(pricing.Query{Upstream: "engine", UpstreamModel: "deepseek-flash", Start: time.Now(), Local: true})
	if !ok || !p.Internal || p.Rates.Output != pricing.MustAmount("0.10") {
		t.Errorf("engine price %+v %v", p, ok)
	}
	if got := book.Currencies(); len(got) != 2 { // CNY (shipped) and USD (the engine)
		t.Errorf("currencies %v", got)
	}

	c, err = Parse(strings.NewReader(pricingBase + "pricing:\n  disabled: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if book, err := c.Pricing.Book(); book != nil || err != nil {
		t.Errorf("disabled pricing built %v %v", book, err)
	}
}

func TestPricingErrorsHaveTheirPaths(t *testing.T) {
	_, err := Parse(strings.NewReader(pricingBase + `
pricing:
  models:
    - model: m
      upstream: nosuch
      cache_hit: "0.1"
      cache_miss: "x"
      output: "1"
`))
	if err == nil {
		t.Fatal("bad pricing accepted")
	}
	for _, want := range []string{"pricing.models[0].upstream", "models[0].cache_miss"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestBudgetsSection(t *testing.T) {
	c, err := Parse(strings.NewReader(pricingBase + `
budgets:
  time_zone: Asia/Shanghai
  rules:
    - {subject: team:research, period: month, amount: "500", currency: USD}
    - {subject: key:k1, period: day, amount: "2.5", currency: USD, soft: 0.9}
`))
	if err != nil {
		t.Fatal(err)
	}
	o, err := c.Budgets.Compile()
	if err != nil || len(o.Rules) != 2 || o.Rules[1].Amount != pricing.MustAmount("2.5") || o.Calendar.Location().String() != "Asia/Shanghai" {
		t.Fatalf("%+v %v", o, err)
	}
	if c.BudgetBackend() != "memory" {
		t.Errorf("backend %q", c.BudgetBackend())
	}
	_, err = Parse(strings.NewReader(pricingBase + `
budgets:
  rules:
    - {subject: nobody, period: fortnight, amount: "-1", currency: EUR}
`))
	if err == nil || !strings.Contains(err.Error(), "budgets.rules[0].period") {
		t.Errorf("bad budget: %v", err)
	}
	_, err = Parse(strings.NewReader(pricingBase + `
budgets:
  rules:
    - {subject: key:k1, period: day, amount: "1", currency: EUR}
`))
	if err == nil || !strings.Contains(err.Error(), "nothing is priced in") {
		t.Errorf("a budget in an unpriced currency: %v", err)
	}
}
