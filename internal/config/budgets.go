package config

import (
	"errors"
	"fmt"
	"slices"

	"github.com/dsgate/dsgate/internal/budget"
	"github.com/dsgate/dsgate/internal/pricing"
)

// Budgets are spending limits in money per key, OAuth2 client or team:
//
//	budgets:
//	  time_zone: Asia/Shanghai      # days, weeks and months start at local midnight
//	  rules:
//	    - {subject: team:research, period: month, amount: "500", currency: USD}
//	    - {subject: key:7f3a9c, period: day, amount: "20", currency: USD, soft: 0.9}
//
// A request is refused with 429 (code budget_exhausted) while any budget
// that applies to it (its key's or client's, and its team's) is spent;
// past the soft threshold its answers carry X-Dsgate-Budget-Warning.
type Budgets struct {
	// TimeZone is the IANA zone budget periods are counted in. Default UTC.
	TimeZone string `yaml:"time_zone"`
	// WeekStart is the first day of a budget week: mon (default) or sun.
	WeekStart string `yaml:"week_start"`
	// Backend counts spend in memory (one replica) or redis (shared by
	// replicas). Default: rate_limit.backend. A change takes a restart.
	Backend string `yaml:"backend"`
	// Rules are the budgets.
	Rules []BudgetRule `yaml:"rules"`
}

// BudgetRule is one budget.
type BudgetRule struct {
	// Subject is key:<key id>, client:<client id> or team:<team name>.
	Subject string `yaml:"subject"`
	// Period is day, week or month.
	Period string `yaml:"period"`
	// Amount per period, a plain decimal such as "12.50".
	Amount string `yaml:"amount"`
	// Currency is USD or CNY: the budget is charged by requests priced in
	// it.
	Currency string `yaml:"currency"`
	// Soft is the fraction of the amount from which answers carry a
	// warning header and the budget alert fires. Default 0.8; 1 turns the
	// warning off.
	Soft float64 `yaml:"soft"`
}

// BudgetBackend is the backend budgets count in: budgets.backend, else
// rate_limit.backend.
func (c *Config) BudgetBackend() string {
	if c.Budgets.Backend != "" {
		return c.Budgets.Backend
	}
	return c.RateLimit.Backend
}

// Compile turns the section into budget.Options (without a backend).
func (b Budgets) Compile() (budget.Options, error) {
	var errs []error
	cal, err := pricing.NewCalendar(pricing.CalendarOptions{TimeZone: b.TimeZone, WeekStart: b.WeekStart})
	if err != nil {
		errs = append(errs, fmt.Errorf("budgets: %w", err))
	}
	var rules []budget.Rule
	for i, r := range b.Rules {
		p := fmt.Sprintf("budgets.rules[%d]", i)
		period, err := pricing.ParsePeriod(r.Period)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.period: %w", p, err))
		}
		amount, err := pricing.ParseAmount(r.Amount)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s.amount: %w", p, err))
		}
		rules = append(rules, budget.Rule{Subject: r.Subject, Period: period, Amount: amount,
			Currency: pricing.Currency(r.Currency), Soft: r.Soft})
	}
	if err := errors.Join(errs...); err != nil {
		return budget.Options{}, err
	}
	o := budget.Options{Rules: rules, Calendar: cal}
	if _, err := budget.New(o); err != nil { // validates the rules
		return budget.Options{}, fmt.Errorf("budgets.rules: %w", err)
	}
	return o, nil
}

// validateBudgets checks the section against the price book: a budget in
// a currency nothing is priced in would never be charged.
func (c *Config) validateBudgets(add func(path, format string, args ...any)) {
	if len(c.Budgets.Rules) == 0 {
		return
	}
	if _, err := c.Budgets.Compile(); err != nil {
		add("budgets", "%v", err)
		return
	}
	if c.Pricing.Disabled {
		add("budgets", "budgets need pricing: pricing.disabled is set")
		return
	}
	book, err := c.Pricing.Book()
	if err != nil {
		return // reported under pricing
	}
	for i, r := range c.Budgets.Rules {
		if !slices.Contains(book.Currencies(), pricing.Currency(r.Currency)) {
			add(fmt.Sprintf("budgets.rules[%d].currency", i), "nothing is priced in %q (the price book has %v)", r.Currency, book.Currencies())
		}
	}
	switch be := c.BudgetBackend(); be {
	case "memory":
	case "redis":
		if c.Redis.Addr == "" {
			add("budgets.backend", "redis needs redis.addr")
		}
	default:
		add("budgets.backend", "must be memory or redis, got %q", be)
	}
}
