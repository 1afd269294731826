package usage

import (
	"cmp"
	"slices"
	"time"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/store"
)

// FromAudit returns the usage an audit record says was recorded for its
// request, as the recorder would have counted it, and whether there was
// any: only metered records (audit.Event.Metered) were recorded. A
// response-cache hit spent no upstream tokens, so it counts as a request
// with its cost (zero) and savings but no tokens, as the recorder counts it.
func FromAudit(ev *audit.Event) (store.UsageDelta, bool) {
	if ev.Metered == "" {
		return store.UsageDelta{}, false
	}
	d := store.UsageDelta{Kind: store.PrincipalKind(ev.Metered), PrincipalID: storable(ev.Principal),
		Model: storable(ev.Model), Day: ev.RequestAt.UTC().Truncate(24 * time.Hour),
		Hour: ev.RequestAt.UTC().Truncate(time.Hour), Requests: 1,
		Cost: ev.Cost, CostSaved: ev.CostSaved, Currency: storable(ev.Currency)}
	if ev.CacheResult != "hit" {
		d.PromptTokens, d.CacheHitTokens, d.CompletionTokens = int64(ev.PromptTokens), int64(ev.CacheHitTokens),
			int64(ev.CompletionTokens)
	}
	return d, true
}

// Period is the time unit usage is compared per: a day or an hour.
type Period int

// Periods of Reconcile.
const (
	PerDay Period = iota
	PerHour
)

// String is "day" or "hour".
func (p Period) String() string {
	if p == PerHour {
		return "hour"
	}
	return "day"
}

// Difference is one bucket where the audit trail and the usage store
// disagree: the sums of each side (zero when a side has none). Day and
// Hour of the two are the bucket's.
type Difference struct {
	Audit, Store store.UsageDelta
}

// Reconcile sums two sides of usage per principal, model, currency and
// period and returns the buckets where any figure differs (requests,
// tokens, cost, savings: exact integers), ordered by principal, model,
// period and currency. fromAudit are deltas of FromAudit; stored are the
// store's hourly buckets (store.UsageFilter.ByHour). Days are cut in loc
// (nil: UTC) from each bucket's UTC hour, as reports cut them; a stored
// bucket that knows its day only (from before hourly buckets) counts in
// its UTC day and cannot be compared per hour.
func Reconcile(fromAudit, stored []store.UsageDelta, per Period, loc *time.Location) []Difference {
	if loc == nil {
		loc = time.UTC
	}
	sums := map[store.UsageKey]*Difference{}
	side := func(d store.UsageDelta) *Difference {
		k := periodKey(d, per, loc)
		if sums[k] == nil {
			sums[k] = &Difference{}
		}
		return sums[k]
	}
	for _, d := range fromAudit {
		addTo(&side(d).Audit, d)
	}
	for _, d := range stored {
		addTo(&side(d).Store, d)
	}
	var out []Difference
	for k, d := range sums {
		if !sameFigures(d.Audit, d.Store) {
			fill(&d.Audit, k)
			fill(&d.Store, k)
			out = append(out, *d)
		}
	}
	slices.SortFunc(out, func(a, b Difference) int {
		return cmp.Or(cmp.Compare(a.Audit.Kind, b.Audit.Kind), cmp.Compare(a.Audit.PrincipalID, b.Audit.PrincipalID),
			cmp.Compare(a.Audit.Model, b.Audit.Model), a.Audit.Day.Compare(b.Audit.Day),
			a.Audit.Hour.Compare(b.Audit.Hour), cmp.Compare(a.Audit.Currency, b.Audit.Currency))
	})
	return out
}

// periodKey is the bucket d counts in: its principal, model and currency
// with Hour its UTC hour (per hour) or Day the start of its day in loc
// (per day). A bucket that knows its day only (Hour zero) counts in its
// UTC day, per day, and in a bucket of its own (Hour zero), per hour.
func periodKey(d store.UsageDelta, per Period, loc *time.Location) store.UsageKey {
	k := store.UsageKey{Kind: d.Kind, PrincipalID: d.PrincipalID, Model: d.Model, Currency: d.Currency}
	switch {
	case d.Hour.IsZero():
		k.Day = d.Day.UTC()
	case per == PerHour:
		k.Day, k.Hour = d.Day.UTC(), d.Hour.UTC()
	default:
		local := d.Hour.In(loc)
		k.Day = time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	}
	return k
}

// addTo adds d's figures to sum.
func addTo(sum *store.UsageDelta, d store.UsageDelta) {
	sum.Requests += d.Requests
	sum.PromptTokens += d.PromptTokens
	sum.CacheHitTokens += d.CacheHitTokens
	sum.CompletionTokens += d.CompletionTokens
	sum.Cost += d.Cost
	sum.CostSaved += d.CostSaved
}

// fill names a side after its bucket.
func fill(d *store.UsageDelta, k store.UsageKey) {
	d.Kind, d.PrincipalID, d.Model, d.Day, d.Hour, d.Currency = k.Kind, k.PrincipalID, k.Model, k.Day, k.Hour, k.Currency
}

func sameFigures(a, b store.UsageDelta) bool {
	return a.Requests == b.Requests && a.PromptTokens == b.PromptTokens && a.CacheHitTokens == b.CacheHitTokens &&
		a.CompletionTokens == b.CompletionTokens && a.Cost == b.Cost && a.CostSaved == b.CostSaved
}
