package pricing

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// New validates opts and compiles the price book: the shipped DeepSeek
// prices (unless NoDefaults) overlaid with opts.Models. All problems are
// reported at once, each prefixed with its path (models[2].windows[0].end).
func New(opts Options) (*Book, error) {
	cur := Currency(opts.DefaultsCurrency)
	if cur == "" {
		cur = USD
	}
	var errs []error
	if cur != USD && cur != CNY {
		errs = append(errs, fmt.Errorf("defaults_currency: %q is not USD or CNY", opts.DefaultsCurrency))
		cur = USD
	}
	cals, calErrs := compileCalendars(opts)
	errs = append(errs, calErrs...)

	b := &Book{entries: map[string]map[string][]*entry{}}
	for _, src := range sources(opts, cur) {
		e, err := compileModel(src.m, cur, cals)
		if err != nil {
			errs = append(errs, prefix(src.path, err))
			continue
		}
		e.shipped = src.shipped
		errs = append(errs, b.add(src, e)...)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, models := range b.entries {
		for _, list := range models {
			slices.SortFunc(list, func(a, c *entry) int { return a.from.Compare(c.from) })
		}
	}
	slices.Sort(b.currencies)
	return b, nil
}

// source is one entry to compile and where it came from.
type source struct {
	m       ModelPrice
	path    string
	shipped bool
}

// sources lists configured entries first, then the shipped ones: a shipped
// entry only fills names the configuration left unpriced (at the same
// effective_from).
func sources(opts Options, cur Currency) []source {
	var out []source
	for i, m := range opts.Models {
		out = append(out, source{m, fmt.Sprintf("models[%d]", i), false})
	}
	if !opts.NoDefaults {
		for i, m := range Defaults(cur) {
			out = append(out, source{m, fmt.Sprintf("defaults[%d]", i), true})
		}
	}
	return out
}

// add files e under its model and aliases. A name already priced from the
// same effective_from is an error for a configured entry and skipped for a
// shipped one.
func (b *Book) add(src source, e *entry) []error {
	m := src.m
	models := b.entries[m.Upstream]
	if models == nil {
		models = map[string][]*entry{}
		b.entries[m.Upstream] = models
	}
	var errs []error
	used := false
	for _, name := range append([]string{m.Model}, m.Aliases...) {
		if slices.ContainsFunc(models[name], func(o *entry) bool { return o.from.Equal(e.from) }) {
			if !src.shipped {
				errs = append(errs, fmt.Errorf("%s: model %q (upstream %q) priced twice from the same effective_from", src.path, name, m.Upstream))
			}
			continue
		}
		models[name] = append(models[name], e)
		used = true
	}
	if used && !slices.Contains(b.currencies, e.currency) {
		b.currencies = append(b.currencies, e.currency)
	}
	return errs
}

func prefix(path string, err error) error {
	var out []error
	for _, e := range unjoin(err) {
		out = append(out, fmt.Errorf("%s.%w", path, e))
	}
	return errors.Join(out...)
}

// unjoin flattens nested errors.Join results, so each problem gets its
// own line and its full path.
func unjoin(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, unjoin(e)...)
	}
	return out
}

func compileModel(m ModelPrice, defCur Currency, cals map[string][]int32) (*entry, error) {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	switch {
	case strings.TrimSpace(m.Model) == "":
		add("model: required")
	case m.Model == AnyModel && m.Upstream == "":
		add("model: %q needs upstream", AnyModel)
	}
	for j, a := range m.Aliases {
		if strings.TrimSpace(a) == "" || a == AnyModel {
			add("aliases[%d]: %q is not a model name", j, a)
		}
	}
	e := &entry{from: m.EffectiveFrom, internal: m.Internal, baseName: m.BaseName, currency: Currency(m.Currency)}
	if e.baseName == "" {
		e.baseName = "standard"
	}
	if e.currency == "" {
		e.currency = defCur
	} else if !validCurrency(e.currency) {
		add("currency: %q is not an ISO 4217 code such as USD or CNY", m.Currency)
	}
	var err error
	if e.loc, err = loadZone(m.TimeZone); err != nil {
		add("time_zone: %v", err)
	}
	if m.Holidays != "" {
		days, ok := cals[m.Holidays]
		if !ok {
			add("holidays: no calendar named %q", m.Holidays)
		}
		e.holidays = days
	}
	if e.base, err = parseRates(m.CacheHit, m.CacheMiss, m.Output); err != nil {
		errs = append(errs, err)
	}
	if m.Checked != "" {
		if _, err := time.Parse(time.DateOnly, m.Checked); err != nil {
			add("checked: %q is not YYYY-MM-DD", m.Checked)
		}
	}
	for j, w := range m.Windows {
		cw, err := compileWindow(w)
		if err != nil {
			errs = append(errs, prefix(fmt.Sprintf("windows[%d]", j), err))
			continue
		}
		for k, o := range e.windows {
			if o.days&cw.days != 0 && cw.start < o.end && o.start < cw.end {
				add("windows[%d]: overlaps windows[%d] (%s)", j, k, o.name)
			}
		}
		e.windows = append(e.windows, cw)
	}
	return e, errors.Join(errs...)
}

func loadZone(name string) (*time.Location, error) {
	switch name {
	case "", "UTC":
		return time.UTC, nil
	case "Local":
		return nil, fmt.Errorf("zone \"Local\" depends on the machine; name one such as Asia/Shanghai")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%q is not a known IANA time zone (is tzdata installed?)", name)
	}
	return loc, nil
}

func parseRates(hit, miss, out string) (Rates, error) {
	var r Rates
	var errs []error
	for _, f := range []struct {
		name string
		s    string
		dst  *Amount
	}{{"cache_hit", hit, &r.CacheHit}, {"cache_miss", miss, &r.CacheMiss}, {"output", out, &r.Output}} {
		if f.s == "" {
			errs = append(errs, fmt.Errorf("%s: required (a price per million tokens, such as 0.15)", f.name))
			continue
		}
		a, err := ParseAmount(f.s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
		}
		*f.dst = a
	}
	return r, errors.Join(errs...)
}

func compileWindow(w Window) (window, error) {
	var errs []error
	cw := window{name: w.Name}
	if strings.TrimSpace(w.Name) == "" {
		errs = append(errs, fmt.Errorf("name: required"))
	}
	var err error
	if cw.days, err = parseDays(w.Days); err != nil {
		errs = append(errs, fmt.Errorf("days: %w", err))
	}
	start, err1 := parseClock(w.Start)
	if err1 != nil {
		errs = append(errs, fmt.Errorf("start: %w", err1))
	}
	end, err2 := parseClock(w.End)
	if err2 != nil {
		errs = append(errs, fmt.Errorf("end: %w", err2))
	}
	if err1 == nil && err2 == nil {
		switch {
		case start >= 86400:
			errs = append(errs, fmt.Errorf("start: %q is not before 24:00", w.Start))
		case end <= start:
			errs = append(errs, fmt.Errorf("end: %q is not after start %q (a window does not wrap past midnight: write two)", w.End, w.Start))
		}
	}
	cw.start, cw.end = start, end
	if cw.rates, err = parseRates(w.CacheHit, w.CacheMiss, w.Output); err != nil {
		errs = append(errs, err)
	}
	return cw, errors.Join(errs...)
}

// dayMask maps a day name to its weekday bits.
func dayMask(name string) (uint8, bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "sun":
		return 1 << time.Sunday, true
	case "mon":
		return 1 << time.Monday, true
	case "tue":
		return 1 << time.Tuesday, true
	case "wed":
		return 1 << time.Wednesday, true
	case "thu":
		return 1 << time.Thursday, true
	case "fri":
		return 1 << time.Friday, true
	case "sat":
		return 1 << time.Saturday, true
	case "weekdays":
		return 0b0111110, true
	case "weekend":
		return 0b1000001, true
	case "daily":
		return 0b1111111, true
	}
	return 0, false
}

func parseDays(days []string) (uint8, error) {
	if len(days) == 0 {
		return 0b1111111, nil
	}
	var mask uint8
	for _, d := range days {
		bit, ok := dayMask(d)
		if !ok {
			return 0, fmt.Errorf("%q is not mon..sun, weekdays, weekend or daily", d)
		}
		mask |= bit
	}
	return mask, nil
}

// parseClock reads HH:MM or HH:MM:SS, 00:00 to 24:00, as seconds.
func parseClock(s string) (int32, error) {
	bad := fmt.Errorf("%q is not HH:MM (00:00 to 24:00)", s)
	layout := "15:04"
	if len(s) == 8 {
		layout = "15:04:05"
	}
	if s == "24:00" || s == "24:00:00" {
		return 86400, nil
	}
	if len(s) != len(layout) {
		return 0, bad
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return 0, bad
	}
	h, m, sec := t.Clock()
	return int32(h*3600 + m*60 + sec), nil
}

// compileCalendars merges the shipped calendars with opts.Calendars into
// sorted day numbers.
func compileCalendars(opts Options) (map[string][]int32, []error) {
	all := map[string][]string{}
	if !opts.NoDefaults {
		maps.Copy(all, DefaultCalendars())
	}
	for name, dates := range opts.Calendars {
		all[name] = append(slices.Clone(all[name]), dates...)
	}
	var errs []error
	out := map[string][]int32{}
	for _, name := range slices.Sorted(maps.Keys(all)) {
		var days []int32
		for j, d := range all[name] {
			from, to, err := parseDateRange(d)
			if err != nil {
				errs = append(errs, fmt.Errorf("calendars.%s[%d]: %w", name, j, err))
				continue
			}
			for day := from; day <= to; day++ {
				days = append(days, day)
			}
		}
		slices.Sort(days)
		out[name] = slices.Compact(days)
	}
	return out, errs
}

// parseDateRange reads "2026-10-01" or "2026-10-01..2026-10-07" as day
// numbers.
func parseDateRange(s string) (from, to int32, err error) {
	a, b, isRange := strings.Cut(s, "..")
	if !isRange {
		b = a
	}
	ta, err1 := time.Parse(time.DateOnly, strings.TrimSpace(a))
	tb, err2 := time.Parse(time.DateOnly, strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%q is not YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD", s)
	}
	from, to = int32(ta.Unix()/86400), int32(tb.Unix()/86400)
	switch {
	case to < from:
		return 0, 0, fmt.Errorf("%q ends before it starts", s)
	case to-from > 366:
		return 0, 0, fmt.Errorf("%q spans more than a year", s)
	}
	return from, to, nil
}
