package budget

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/pricing"
)

// DefaultSoft is the soft threshold when a rule sets none: a warning at
// 80% of the budget.
const DefaultSoft = 0.8

// Rule is one budget.
type Rule struct {
	// Subject is who pays: "key:<id>", "client:<id>" or "team:<name>".
	Subject string
	Period  pricing.Period
	// Amount is the budget per period in Currency.
	Amount   pricing.Amount
	Currency pricing.Currency
	// Soft is the fraction of Amount from which requests carry a
	// warning; 0 means DefaultSoft, 1 or more means no warning.
	Soft float64
}

// Name is the rule's label in metrics and messages: "key:abc/day/USD".
func (r Rule) Name() string { return r.Subject + "/" + r.Period.String() + "/" + string(r.Currency) }

// Counter is one budget's spend in one period, as a backend keeps it.
type Counter struct {
	// Key names the rule and the period ("key:abc/day/USD/day:2026-12-03").
	Key string
	// Limit is the rule's amount in nano-units: a reservation is admitted
	// only while the counter is below it.
	Limit int64
	// Expire is when the counter may be forgotten (the period's end plus
	// a margin for late settlements).
	Expire time.Time
}

// Backend keeps spend counters (committed plus reserved nano-units).
type Backend interface {
	// Reserve adds amount to every counter when each is below its limit
	// and returns their new values; otherwise it adds nothing and
	// returns exhausted, the index of the first counter at or over its
	// limit, with the counters' current values. Atomic across callers.
	Reserve(ctx context.Context, cs []Counter, amount int64) (spent []int64, exhausted int, err error)
	// Add adds delta (negative to give back) to every counter.
	Add(ctx context.Context, cs []Counter, delta int64) error
	// Spent reads one counter (0 when unknown).
	Spent(ctx context.Context, key string) (int64, error)
}

// Observer is told budget events, for metrics; all methods must be cheap.
type Observer interface {
	// Spent reports a budget's spend in its current period as a fraction
	// of its amount.
	Spent(rule string, ratio float64)
	// Exhausted counts a request refused by the budget.
	Exhausted(rule string)
}

// Options configure Budgets.
type Options struct {
	Rules    []Rule
	Calendar *pricing.Calendar // default: UTC, weeks from Monday
	Backend  Backend           // default: a new Memory
	Observer Observer          // nil: none
}

// Budgets applies the rules. Safe for concurrent use.
type Budgets struct {
	bySubject map[string][]*compiled
	cal       *pricing.Calendar
	backend   Backend
	obs       Observer
}

// compiled is a Rule ready for the request path.
type compiled struct {
	Rule
	name  string // Rule.Name, computed once
	limit int64
	soft  int64 // nano-units from which a warning is sent; 0: never
}

// New validates the rules.
func New(o Options) (*Budgets, error) {
	if o.Calendar == nil {
		cal, err := pricing.NewCalendar(pricing.CalendarOptions{})
		if err != nil {
			return nil, err
		}
		o.Calendar = cal
	}
	if o.Backend == nil {
		o.Backend = NewMemory()
	}
	b := &Budgets{bySubject: map[string][]*compiled{}, cal: o.Calendar, backend: o.Backend, obs: o.Observer}
	var errs []error
	seen := map[string]bool{}
	for i, r := range o.Rules {
		if err := validate(r); err != nil {
			errs = append(errs, fmt.Errorf("budgets[%d]: %w", i, err))
			continue
		}
		c := &compiled{Rule: r, name: r.Name(), limit: int64(r.Amount)}
		if seen[c.name] {
			errs = append(errs, fmt.Errorf("budgets[%d]: %s has two budgets for the same period and currency", i, r.Subject))
			continue
		}
		seen[c.name] = true
		soft := r.Soft
		if soft == 0 {
			soft = DefaultSoft
		}
		if soft < 1 {
			c.soft = int64(float64(c.limit) * soft)
		}
		b.bySubject[r.Subject] = append(b.bySubject[r.Subject], c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return b, nil
}

func validate(r Rule) error {
	kind, id, ok := strings.Cut(r.Subject, ":")
	if !ok || id == "" || (kind != "key" && kind != "client" && kind != "team") {
		return fmt.Errorf("subject %q must be key:<id>, client:<id> or team:<name>", r.Subject)
	}
	if r.Period < pricing.Day || r.Period > pricing.Month {
		return fmt.Errorf("%s: period must be day, week or month", r.Subject)
	}
	if r.Amount <= 0 {
		return fmt.Errorf("%s: amount must be positive", r.Subject)
	}
	if r.Currency == "" {
		return fmt.Errorf("%s: currency is required", r.Subject)
	}
	if r.Soft < 0 {
		return fmt.Errorf("%s: soft must not be negative", r.Subject)
	}
	return nil
}

// Empty reports whether there are no rules (nothing to check).
func (b *Budgets) Empty() bool { return b == nil || len(b.bySubject) == 0 }

// Applies reports whether any rule names one of subjects.
func (b *Budgets) Applies(subjects []string) bool {
	if b.Empty() {
		return false
	}
	for _, s := range subjects {
		if len(b.bySubject[s]) > 0 {
			return true
		}
	}
	return false
}

// ExhaustedError refuses a request: a budget has nothing left until Reset.
type ExhaustedError struct {
	Rule  Rule
	Spent pricing.Amount
	Reset time.Time
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("budget exhausted: %s has spent %s of its %s %s %s budget; it resets at %s",
		e.Rule.Subject, e.Spent, e.Rule.Period, e.Rule.Amount, e.Rule.Currency, e.Reset.Format(time.RFC3339))
}

// RetryAfter is the whole seconds from now until the budget resets.
func (e *ExhaustedError) RetryAfter(now time.Time) int {
	s := int(e.Reset.Sub(now).Seconds() + 0.999)
	return max(s, 1)
}

// Warning says a budget passed its soft threshold.
type Warning struct {
	Rule  Rule
	Spent pricing.Amount
	Reset time.Time
}

// String is the X-Dsgate-Budget-Warning value:
// "key:abc day 82% of 10.000000 USD, resets 2026-12-04T00:00:00+08:00".
func (w Warning) String() string {
	pct := float64(w.Spent) / float64(w.Rule.Amount) * 100
	return w.Rule.Subject + " " + w.Rule.Period.String() + " " + strconv.FormatFloat(pct, 'f', 0, 64) + "% of " +
		w.Rule.Amount.String() + " " + string(w.Rule.Currency) + ", resets " + w.Reset.Format(time.RFC3339)
}

// Reservation is one admitted request's hold on its budgets.
type Reservation struct {
	b        *Budgets
	counters []Counter
	rules    []*compiled
	reserved int64
	currency pricing.Currency
	// Warnings are the budgets past their soft threshold after this
	// reservation.
	Warnings []Warning
	settled  bool
}

// Reserve admits a request of subjects (its key or client, and its team)
// priced in currency at estimate, at time at. It returns nil (and no
// error) when no budget applies; an *ExhaustedError when one has nothing
// left; a backend error otherwise (the caller decides to fail open or
// closed).
func (b *Budgets) Reserve(ctx context.Context, subjects []string, currency pricing.Currency, estimate pricing.Amount, at time.Time) (*Reservation, error) {
	if b.Empty() {
		return nil, nil
	}
	var r *Reservation
	for _, s := range subjects {
		for _, c := range b.bySubject[s] {
			if c.Currency != currency {
				continue
			}
			if r == nil {
				r = &Reservation{b: b, currency: currency, reserved: int64(estimate)}
			}
			start, end := b.cal.Bounds(c.Period, at)
			r.rules = append(r.rules, c)
			r.counters = append(r.counters, Counter{Key: counterKey(c, start), Limit: c.limit, Expire: end.Add(48 * time.Hour)})
		}
	}
	if r == nil {
		return nil, nil
	}
	// A reservation above every limit it counts against says nothing more
	// (the request holds them all exhausted while in flight) and could
	// overflow a counter (max_tokens may be 2^63-1).
	var most int64
	for _, c := range r.counters {
		most = max(most, c.Limit)
	}
	r.reserved = min(r.reserved, most)
	spent, exhausted, err := b.backend.Reserve(ctx, r.counters, r.reserved)
	if err != nil {
		return nil, err
	}
	if exhausted >= 0 {
		c := r.rules[exhausted]
		if b.obs != nil {
			b.obs.Exhausted(c.name)
		}
		return nil, &ExhaustedError{Rule: c.Rule, Spent: pricing.Amount(spent[exhausted]), Reset: b.cal.Reset(c.Period, at)}
	}
	for i, c := range r.rules {
		if b.obs != nil {
			b.obs.Spent(c.name, float64(spent[i])/float64(c.limit))
		}
		if c.soft > 0 && spent[i] >= c.soft {
			r.Warnings = append(r.Warnings, Warning{Rule: c.Rule, Spent: pricing.Amount(spent[i]), Reset: b.cal.Reset(c.Period, at)})
		}
	}
	return r, nil
}

// counterKey names a rule's counter for the period starting at start.
func counterKey(c *compiled, start time.Time) string {
	var buf [96]byte
	b := append(buf[:0], c.name...)
	b = append(b, '/')
	b = start.AppendFormat(b, "2006-01-02")
	return string(b)
}

// Settle replaces the reservation with the real cost: actual in the
// reservation's currency (zero for a failed or cached request). Settling
// twice is a no-op.
func (r *Reservation) Settle(ctx context.Context, actual pricing.Amount) error {
	if r == nil || r.settled {
		return nil
	}
	r.settled = true
	delta := int64(actual) - r.reserved
	if delta == 0 {
		return nil
	}
	return r.b.backend.Add(context.WithoutCancel(ctx), r.counters, delta)
}

// Currency is the currency the reservation was made in.
func (r *Reservation) Currency() pricing.Currency { return r.currency }

// Status is one budget's state, for the admin API.
type Status struct {
	Rule  Rule
	Spent pricing.Amount // committed plus in-flight reservations
	Start time.Time
	Reset time.Time
}

// Status reads every budget of subjects (all rules when subjects is nil)
// in the period containing at.
func (b *Budgets) Status(ctx context.Context, subjects []string, at time.Time) ([]Status, error) {
	if b.Empty() {
		return nil, nil
	}
	var out []Status
	add := func(c *compiled) error {
		start, end := b.cal.Bounds(c.Period, at)
		v, err := b.backend.Spent(ctx, counterKey(c, start))
		if err != nil {
			return err
		}
		out = append(out, Status{Rule: c.Rule, Spent: pricing.Amount(v), Start: start, Reset: end})
		return nil
	}
	if subjects == nil {
		for _, cs := range b.bySubject {
			for _, c := range cs {
				if err := add(c); err != nil {
					return nil, err
				}
			}
		}
		return out, nil
	}
	for _, s := range subjects {
		for _, c := range b.bySubject[s] {
			if err := add(c); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// ErrorHeaders are the headers of the 429 answer: Retry-After until the
// budget resets, and the reset instant itself.
func (e *ExhaustedError) ErrorHeaders() http.Header {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(e.RetryAfter(time.Now())))
	h.Set(HeaderReset, e.Reset.UTC().Format(time.RFC3339))
	return h
}

// Response headers.
const (
	// HeaderWarning carries a Warning (one header per budget past its
	// soft threshold).
	HeaderWarning = "X-Dsgate-Budget-Warning"
	// HeaderReset is when an exhausted budget resets (RFC 3339, UTC).
	HeaderReset = "X-Dsgate-Budget-Reset"
)

// Observe reports every budget's spend in the period containing at to
// the Observer, so that a budget's ratio falls back when its period rolls
// over even if no request touches it (the ratio set at admission would
// otherwise stay at its last value and keep an alert firing). It returns
// the first backend error after trying every budget.
func (b *Budgets) Observe(ctx context.Context, at time.Time) error {
	if b.Empty() || b.obs == nil {
		return nil
	}
	var first error
	for _, cs := range b.bySubject {
		for _, c := range cs {
			start, _ := b.cal.Bounds(c.Period, at)
			v, err := b.backend.Spent(ctx, counterKey(c, start))
			if err != nil {
				first = cmp.Or(first, err)
				continue
			}
			b.obs.Spent(c.name, float64(v)/float64(c.limit))
		}
	}
	return first
}
