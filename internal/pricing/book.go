package pricing

import (
	"slices"
	"time"
)

// AnyModel as ModelPrice.Model prices every model of one upstream.
const AnyModel = "*"

// Book is a compiled price book. It is immutable and safe for concurrent
// use; to change prices at runtime build a new Book and swap the pointer.
type Book struct {
	// entries[upstream][model], upstream "" for unscoped entries; each
	// list sorted by effective time. Two levels, so a request to an
	// upstream without scoped prices costs one lookup to rule them out.
	entries    map[string]map[string][]*entry
	currencies []Currency
}

// entry is one compiled ModelPrice.
type entry struct {
	from     time.Time // zero: always
	currency Currency
	internal bool
	loc      *time.Location
	baseName string
	base     Rates
	windows  []window
	holidays []int32 // sorted local day numbers (days since 1970-01-01)
	shipped  bool    // a shipped DeepSeek cloud price, not the operator's
}

// window is a compiled Window; days has bit time.Weekday set.
type window struct {
	name       string
	days       uint8
	start, end int32 // seconds since local midnight, end exclusive
	rates      Rates
}

// Query names a request for pricing.
type Query struct {
	// Upstream is the name of the upstream that served the request.
	Upstream string
	// UpstreamModel is the model name sent to the upstream.
	UpstreamModel string
	// PublicModel is the model name the client asked for.
	PublicModel string
	// Start is when the request started; its price is the one in force
	// then, however long the request runs.
	Start time.Time
	// Local marks an upstream that is not DeepSeek's cloud (a local
	// engine, the simulator, any OpenAI-compatible server): the shipped
	// DeepSeek prices never apply to it, even when it serves a model under
	// a DeepSeek name. Only configured entries price it: its own
	// (upstream-scoped) ones, or unscoped ones the operator wrote.
	Local bool
}

// Price is the resolved price of a request: resolve it once when the
// request starts, keep it with the request, and call Cost at settlement.
type Price struct {
	Rates    Rates
	Currency Currency
	// Window is the window's name, or the entry's base name.
	Window   string
	Internal bool
}

// Cost prices usage at p.
func (p Price) Cost(u Usage) Cost {
	amount, saved := price(p.Rates, u)
	return Cost{Amount: amount, Saved: saved, Currency: p.Currency, Window: p.Window, Internal: p.Internal}
}

// MaxCost is the most a request can cost at p: every prompt token a cache
// miss and every allowed completion token used. Reserve it against budgets
// when the request is admitted, and settle with Cost of the real usage.
func (p Price) MaxCost(promptTokens, maxCompletionTokens int64) Amount {
	amount, _ := price(p.Rates, Usage{PromptTokens: promptTokens, CompletionTokens: maxCompletionTokens})
	return amount
}

// Price finds the price in force for q. The first match wins, in this
// order: the upstream's entry for the upstream model, for the public
// model, for any model ("*"); then the unscoped entry for the upstream
// model, then for the public model. ok is false when nothing matches (an
// unpriced model: the caller records tokens without a cost).
func (b *Book) Price(q Query) (p Price, ok bool) {
	e := b.find(q)
	if e == nil {
		return Price{}, false
	}
	return e.priceAt(q.Start), true
}

// Quote is Price followed by Price.Cost.
func (b *Book) Quote(q Query, u Usage) (Cost, bool) {
	p, ok := b.Price(q)
	if !ok {
		return Cost{}, false
	}
	return p.Cost(u), true
}

// Currencies lists the currencies the book prices in, sorted; budgets in
// another currency cannot be charged from it.
func (b *Book) Currencies() []Currency { return slices.Clone(b.currencies) }

func (b *Book) find(q Query) *entry {
	if b == nil {
		return nil
	}
	if q.Upstream != "" {
		if models := b.entries[q.Upstream]; models != nil {
			if e := at(models, q.UpstreamModel, q.Start); e != nil {
				return e
			}
			if e := at(models, q.PublicModel, q.Start); e != nil {
				return e
			}
			if e := at(models, AnyModel, q.Start); e != nil {
				return e
			}
		}
	}
	models := b.entries[""]
	if e := atFor(models, q.UpstreamModel, q); e != nil {
		return e
	}
	return atFor(models, q.PublicModel, q)
}

// atFor is at for an unscoped lookup: a local upstream skips the shipped
// cloud prices.
func atFor(models map[string][]*entry, model string, q Query) *entry {
	if !q.Local {
		return at(models, model, q.Start)
	}
	return atWhere(models, model, q.Start, func(e *entry) bool { return !e.shipped })
}

// at returns the latest entry for model effective at t.
func at(models map[string][]*entry, model string, t time.Time) *entry {
	return atWhere(models, model, t, nil)
}

// atWhere is at among the entries keep accepts (all when keep is nil).
func atWhere(models map[string][]*entry, model string, t time.Time, keep func(*entry) bool) *entry {
	if model == "" {
		return nil
	}
	list := models[model]
	for i := len(list) - 1; i >= 0; i-- {
		if e := list[i]; (e.from.IsZero() || !t.Before(e.from)) && (keep == nil || keep(e)) {
			return e
		}
	}
	return nil
}

// priceAt picks the window in force at t: the local weekday and time of
// day in the entry's zone, unless the local date is a holiday.
func (e *entry) priceAt(t time.Time) Price {
	p := Price{Rates: e.base, Currency: e.currency, Window: e.baseName, Internal: e.internal}
	if len(e.windows) == 0 {
		return p
	}
	day, sec := localDay(t, e.loc)
	if _, holiday := slices.BinarySearch(e.holidays, day); holiday {
		return p
	}
	wd := uint8(1) << weekdayOf(day)
	for i := range e.windows {
		w := &e.windows[i]
		if w.days&wd != 0 && sec >= w.start && sec < w.end {
			p.Rates, p.Window = w.rates, w.name
			return p
		}
	}
	return p
}

// localDay returns t's local date as days since 1970-01-01 and the
// seconds since local midnight, with one zone lookup.
func localDay(t time.Time, loc *time.Location) (day, sec int32) {
	_, off := t.In(loc).Zone()
	s := t.Unix() + int64(off)
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return int32(d), int32(s - d*86400)
}

// weekdayOf is the weekday of a day number; 1970-01-01 was a Thursday.
func weekdayOf(day int32) time.Weekday {
	w := (int64(day) + 4) % 7
	if w < 0 {
		w += 7
	}
	return time.Weekday(w)
}
