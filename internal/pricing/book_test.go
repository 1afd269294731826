package pricing

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// decode reads Options the way internal/config does (strict YAML).
func decode(t *testing.T, src string) Options {
	t.Helper()
	var o Options
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&o); err != nil {
		t.Fatal(err)
	}
	return o
}

const localYAML = `
defaults_currency: CNY
calendars:
  cn: ["2027-01-01"]
  de: ["2026-12-25..2026-12-26"]
models:
  - model: "*"
    upstream: gpu-a
    internal: true
    currency: EUR
    time_zone: Europe/Berlin
    holidays: de
    cache_hit: 0.05
    cache_miss: 0.05
    output: 0.40
    windows:
      - name: business
        days: [weekdays]
        start: "08:00"
        end: "20:00"
        cache_hit: 0.10
        cache_miss: 0.10
        output: 0.80
  - model: deepseek-flash
    upstream: gpu-b
    internal: true
    currency: CNY
    cache_hit: "0"
    cache_miss: "0.5"
    output: "2"
  - model: my-model
    currency: USD
    effective_from: 2027-01-01T00:00:00Z
    cache_hit: "0.01"
    cache_miss: "0.10"
    output: "0.20"
  - model: my-model
    currency: USD
    cache_hit: "0.02"
    cache_miss: "0.20"
    output: "0.40"
`

func TestOptionsFromYAML(t *testing.T) {
	o := decode(t, localYAML)
	// Unquoted YAML numbers reach the string fields digit for digit.
	if o.Models[0].Output != "0.40" || o.Models[0].Windows[0].CacheHit != "0.10" {
		t.Fatalf("decoded %+v", o.Models[0])
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Currencies(); len(got) != 3 || got[0] != CNY || got[1] != "EUR" || got[2] != USD {
		t.Errorf("currencies = %v", got)
	}
	thu := mustTime(t, "2026-12-03T10:00:00+01:00")
	tests := []struct {
		name string
		q    Query
		want Price
	}{
		{"upstream wildcard, in its window", Query{Upstream: "gpu-a", UpstreamModel: "deepseek-flash", Start: thu},
			Price{Rates{MustAmount("0.10"), MustAmount("0.10"), MustAmount("0.80")}, "EUR", "business", true}},
		{"upstream wildcard, evening", Query{Upstream: "gpu-a", UpstreamModel: "x", Start: thu.Add(11 * time.Hour)},
			Price{Rates{MustAmount("0.05"), MustAmount("0.05"), MustAmount("0.40")}, "EUR", "standard", true}},
		{"upstream wildcard, a German holiday", Query{Upstream: "gpu-a", UpstreamModel: "x", Start: mustTime(t, "2026-12-25T10:00:00+01:00")},
			Price{Rates{MustAmount("0.05"), MustAmount("0.05"), MustAmount("0.40")}, "EUR", "standard", true}},
		{"upstream-scoped model beats the cloud default", Query{Upstream: "gpu-b", UpstreamModel: "deepseek-flash", Start: thu},
			Price{Rates{0, MustAmount("0.5"), MustAmount("2")}, CNY, "standard", true}},
		{"public name on a scoped upstream", Query{Upstream: "gpu-b", UpstreamModel: "ds-local", PublicModel: "deepseek-flash", Start: thu},
			Price{Rates{0, MustAmount("0.5"), MustAmount("2")}, CNY, "standard", true}},
		{"cloud default in CNY, peak (17:00 Beijing)", Query{Upstream: "deepseek", UpstreamModel: "deepseek-flash", Start: thu},
			Price{Rates{MustAmount("0.04"), MustAmount("2"), MustAmount("8")}, CNY, "peak", false}},
		{"public model name falls back", Query{Upstream: "deepseek", UpstreamModel: "unknown", PublicModel: "deepseek-v4-pro", Start: thu},
			Price{Rates{MustAmount("0.30"), MustAmount("9"), MustAmount("27")}, CNY, "peak", false}},
		{"price before its successor takes effect", Query{UpstreamModel: "my-model", Start: mustTime(t, "2026-12-31T23:59:59Z")},
			Price{Rates{MustAmount("0.02"), MustAmount("0.20"), MustAmount("0.40")}, USD, "standard", false}},
		{"successor in effect", Query{UpstreamModel: "my-model", Start: mustTime(t, "2027-01-01T00:00:00Z")},
			Price{Rates{MustAmount("0.01"), MustAmount("0.10"), MustAmount("0.20")}, USD, "standard", false}},
		{"2027 holiday added to the shipped cn calendar", Query{UpstreamModel: "deepseek-flash", Start: mustTime(t, "2027-01-01T10:00:00+08:00")},
			Price{Rates{MustAmount("0.02"), MustAmount("1"), MustAmount("4")}, CNY, "off-peak", false}},
	}
	for _, tt := range tests {
		got, ok := b.Price(tt.q)
		if !ok || got != tt.want {
			t.Errorf("%s: %+v %v, want %+v", tt.name, got, ok, tt.want)
		}
	}
	if _, ok := b.Price(Query{UpstreamModel: "nope", PublicModel: "nada", Start: thu}); ok {
		t.Error("unknown model priced")
	}
	if _, ok := b.Price(Query{Start: thu}); ok {
		t.Error("empty names priced")
	}
	var nilBook *Book
	if _, ok := nilBook.Quote(Query{UpstreamModel: "deepseek-flash"}, Usage{}); ok {
		t.Error("nil book priced")
	}
}

func TestConfiguredEntryReplacesShipped(t *testing.T) {
	b, err := New(Options{Models: []ModelPrice{{Model: "deepseek-v4-flash", CacheHit: "1", CacheMiss: "1", Output: "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	start := mustTime(t, "2026-12-03T10:00:00+08:00")
	if p, _ := b.Price(Query{UpstreamModel: "deepseek-v4-flash", Start: start}); p.Rates.Output != Nano || p.Window != "standard" {
		t.Errorf("override: %+v", p)
	}
	if p, _ := b.Price(Query{UpstreamModel: "deepseek-flash", Start: start}); p.Rates.Output != MustAmount("1.20") {
		t.Errorf("shipped deepseek-flash lost: %+v", p)
	}
	if p, _ := b.Price(Query{UpstreamModel: "deepseek-v4-flash-vision-exp", Start: start}); p.Rates.Output != MustAmount("1.20") {
		t.Errorf("shipped alias lost: %+v", p)
	}
	none, err := New(Options{NoDefaults: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := none.Price(Query{UpstreamModel: "deepseek-flash", Start: start}); ok {
		t.Error("no_defaults still prices deepseek-flash")
	}
}

func TestValidation(t *testing.T) {
	valid := func() ModelPrice {
		return ModelPrice{Model: "m", CacheHit: "0.1", CacheMiss: "0.2", Output: "0.3"}
	}
	win := func() Window {
		return Window{Name: "peak", Start: "09:00", End: "12:00", CacheHit: "1", CacheMiss: "1", Output: "1"}
	}
	tests := []struct {
		name string
		opts func(o *Options)
		want []string
	}{
		{"bad defaults currency", func(o *Options) { o.DefaultsCurrency = "EUR" }, []string{`defaults_currency: "EUR" is not USD or CNY`}},
		{"missing model and prices", func(o *Options) { o.Models = []ModelPrice{{}} }, []string{
			"models[0].model: required", "models[0].cache_hit: required", "models[0].cache_miss: required", "models[0].output: required"}},
		{"wildcard without upstream", func(o *Options) { m := valid(); m.Model = "*"; o.Models = []ModelPrice{m} }, []string{
			`models[0].model: "*" needs upstream`}},
		{"float-ish price", func(o *Options) { m := valid(); m.Output = "1e-3"; o.Models = []ModelPrice{m} }, []string{
			`models[0].output: amount "1e-3": want a plain decimal`}},
		{"too precise", func(o *Options) { m := valid(); m.CacheHit = "0.0000000001"; o.Models = []ModelPrice{m} }, []string{
			"models[0].cache_hit: amount \"0.0000000001\" has more than 9 decimal places"}},
		{"currency", func(o *Options) { m := valid(); m.Currency = "usd"; o.Models = []ModelPrice{m} }, []string{
			`models[0].currency: "usd" is not an ISO 4217 code`}},
		{"zone", func(o *Options) { m := valid(); m.TimeZone = "Mars/Olympus"; o.Models = []ModelPrice{m} }, []string{
			`models[0].time_zone: "Mars/Olympus" is not a known IANA time zone`}},
		{"local zone", func(o *Options) { m := valid(); m.TimeZone = "Local"; o.Models = []ModelPrice{m} }, []string{
			`models[0].time_zone: zone "Local" depends on the machine`}},
		{"unknown calendar", func(o *Options) { m := valid(); m.Holidays = "xx"; o.Models = []ModelPrice{m} }, []string{
			`models[0].holidays: no calendar named "xx"`}},
		{"checked date", func(o *Options) { m := valid(); m.Checked = "3 Dec"; o.Models = []ModelPrice{m} }, []string{
			`models[0].checked: "3 Dec" is not YYYY-MM-DD`}},
		{"alias", func(o *Options) { m := valid(); m.Aliases = []string{""}; o.Models = []ModelPrice{m} }, []string{
			`models[0].aliases[0]: "" is not a model name`}},
		{"duplicate", func(o *Options) { o.Models = []ModelPrice{valid(), valid()} }, []string{
			`models[1]: model "m" (upstream "") priced twice from the same effective_from`}},
		{"window clock", func(o *Options) {
			m, w := valid(), win()
			w.Start, w.End = "9:00", "25:00"
			m.Windows = []Window{w}
			o.Models = []ModelPrice{m}
		}, []string{`models[0].windows[0].start: "9:00" is not HH:MM`, `models[0].windows[0].end: "25:00" is not HH:MM`}},
		{"window wraps", func(o *Options) {
			m, w := valid(), win()
			w.Start, w.End = "22:00", "06:00"
			m.Windows = []Window{w}
			o.Models = []ModelPrice{m}
		}, []string{`models[0].windows[0].end: "06:00" is not after start "22:00" (a window does not wrap past midnight: write two)`}},
		{"window days, name and rates", func(o *Options) {
			m := valid()
			m.Windows = []Window{{Days: []string{"funday"}, Start: "01:00", End: "02:00"}}
			o.Models = []ModelPrice{m}
		}, []string{"models[0].windows[0].name: required", `models[0].windows[0].days: "funday" is not mon..sun`,
			"models[0].windows[0].cache_hit: required", "models[0].windows[0].output: required"}},
		{"overlapping windows", func(o *Options) {
			m, a, b := valid(), win(), win()
			a.Days, b.Days = []string{"weekdays"}, []string{"fri", "sat"}
			b.Name, b.Start, b.End = "late", "11:00", "24:00"
			m.Windows = []Window{a, b}
			o.Models = []ModelPrice{m}
		}, []string{"models[0].windows[1]: overlaps windows[0] (peak)"}},
		{"calendar dates", func(o *Options) {
			o.Calendars = map[string][]string{"x": {"2026-13-01", "2026-10-07..2026-10-01", "2026-01-01..2027-06-01"}}
		}, []string{`calendars.x[0]: "2026-13-01" is not YYYY-MM-DD`, `calendars.x[1]: "2026-10-07..2026-10-01" ends before it starts`,
			`calendars.x[2]: "2026-01-01..2027-06-01" spans more than a year`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o Options
			tt.opts(&o)
			_, err := New(o)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}

// Adjacent windows (one ends where the next starts) and windows on
// different days do not overlap.
func TestAdjacentWindows(t *testing.T) {
	m := ModelPrice{Model: "m", CacheHit: "0", CacheMiss: "1", Output: "1", Windows: []Window{
		{Name: "a", Start: "00:00", End: "12:00", CacheHit: "0", CacheMiss: "2", Output: "2"},
		{Name: "b", Start: "12:00", End: "24:00", Days: []string{"mon"}, CacheHit: "0", CacheMiss: "3", Output: "3"},
		{Name: "c", Start: "12:00:00", End: "23:59:59", Days: []string{"tue"}, CacheHit: "0", CacheMiss: "4", Output: "4"},
	}}
	b, err := New(Options{NoDefaults: true, Models: []ModelPrice{m}})
	if err != nil {
		t.Fatal(err)
	}
	for when, want := range map[string]string{
		"2026-11-30T23:59:59Z": "b", "2026-12-01T00:00:00Z": "a", "2026-12-01T23:59:58Z": "c",
		"2026-12-01T23:59:59Z": "standard", "2026-12-02T12:00:00Z": "standard",
	} {
		if p, _ := b.Price(Query{UpstreamModel: "m", Start: mustTime(t, when)}); p.Window != want {
			t.Errorf("%s: %s, want %s", when, p.Window, want)
		}
	}
}

// Windows follow local wall time across a DST change: 09:00 New York is
// 14:00 UTC in winter and 13:00 UTC in summer.
func TestWindowsAcrossDST(t *testing.T) {
	m := ModelPrice{Model: "m", TimeZone: "America/New_York", CacheHit: "0", CacheMiss: "1", Output: "1",
		Windows: []Window{{Name: "day", Start: "09:00", End: "17:00", CacheHit: "0", CacheMiss: "2", Output: "2"}}}
	b, err := New(Options{NoDefaults: true, Models: []ModelPrice{m}})
	if err != nil {
		t.Fatal(err)
	}
	for when, want := range map[string]string{
		"2026-03-07T13:59:59Z": "standard", "2026-03-07T14:00:00Z": "day", // Saturday, EST
		"2026-03-08T12:59:59Z": "standard", "2026-03-08T13:00:00Z": "day", // Sunday, EDT from 07:00 UTC
		"2026-03-08T20:59:59Z": "day", "2026-03-08T21:00:00Z": "standard",
		"2026-11-01T13:59:59Z": "standard", "2026-11-01T14:00:00Z": "day", // back to EST
	} {
		if p, _ := b.Price(Query{UpstreamModel: "m", Start: mustTime(t, when)}); p.Window != want {
			t.Errorf("%s: %s, want %s", when, p.Window, want)
		}
	}
}

func TestShippedDefaultsDecodeStrictly(t *testing.T) {
	// The shipped entries, written out as YAML, read back through the
	// strict decoder and compile to the same book.
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(Options{NoDefaults: true, Calendars: DefaultCalendars(), Models: Defaults(USD)}); err != nil {
		t.Fatal(err)
	}
	o := decode(t, buf.String())
	b1, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := New(Options{})
	start := mustTime(t, "2026-12-03T10:00:00+08:00")
	for _, m := range []string{"deepseek-flash", "deepseek-v4-flash", "deepseek-v4-pro"} {
		for h := 0; h < 24*7; h++ {
			q := Query{UpstreamModel: m, Start: start.Add(time.Duration(h) * time.Hour)}
			p1, _ := b1.Price(q)
			p2, _ := b2.Price(q)
			if p1 != p2 {
				t.Fatalf("%s at %s: %+v vs %+v", m, q.Start, p1, p2)
			}
		}
	}
}
