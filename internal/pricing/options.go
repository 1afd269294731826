package pricing

import "time"

// Options is the price book as configuration: plain Go types, with YAML
// tags in the config file's snake_case, for internal/config to fill and
// internal/server to pass to New.
type Options struct {
	// DefaultsCurrency picks the currency of the shipped DeepSeek prices:
	// USD (default) or CNY. DeepSeek bills an account in one of the two.
	DefaultsCurrency string `yaml:"defaults_currency"`
	// NoDefaults leaves the shipped DeepSeek prices and the shipped "cn"
	// holiday calendar out.
	NoDefaults bool `yaml:"no_defaults"`
	// Calendars are named lists of local dates on which no time-of-day
	// window applies (public holidays): "2026-10-01" or an inclusive range
	// "2026-10-01..2026-10-07". A name that is also shipped ("cn") is
	// merged with the shipped dates, so adding next year's holidays is one
	// list.
	Calendars map[string][]string `yaml:"calendars"`
	// Models are prices. An entry with the same upstream, model and
	// effective_from as a shipped one replaces it.
	Models []ModelPrice `yaml:"models"`
}

// ModelPrice is the price of one model, on every upstream or on one.
type ModelPrice struct {
	// Model is the upstream's model name or the public one; "*" (with
	// Upstream set) prices every model of that upstream.
	Model string `yaml:"model"`
	// Aliases are further names billed at this price (DeepSeek bills the
	// retired deepseek-v4-flash as deepseek-flash).
	Aliases []string `yaml:"aliases"`
	// Upstream, when set, limits the entry to that upstream (by its name
	// in the upstreams list); such entries win over unscoped ones. Use it
	// for local engines serving a model under a cloud model's name.
	Upstream string `yaml:"upstream"`
	// Currency is an ISO 4217 code. Default: Options.DefaultsCurrency.
	Currency string `yaml:"currency"`
	// Internal marks an operator's own price, such as the amortised GPU
	// cost of a local engine, rather than a provider's bill.
	Internal bool `yaml:"internal"`
	// EffectiveFrom is when this price starts to apply; a model can list
	// several prices, and a request is priced by the latest one that
	// started before the request did. Zero: always.
	EffectiveFrom time.Time `yaml:"effective_from"`
	// TimeZone is the IANA zone the windows and holidays are read in, such
	// as Asia/Shanghai. Default UTC.
	TimeZone string `yaml:"time_zone"`
	// Holidays names a calendar of dates on which no window applies.
	Holidays string `yaml:"holidays"`
	// BaseName names the base rates in Cost.Window. Default "standard".
	BaseName string `yaml:"base_name"`
	// CacheHit, CacheMiss and Output are the base prices per million
	// tokens as plain decimals ("0.003"), read exactly.
	CacheHit  string `yaml:"cache_hit"`
	CacheMiss string `yaml:"cache_miss"`
	Output    string `yaml:"output"`
	// Windows are time-of-day prices; outside them the base prices apply.
	// Windows of one entry must not overlap.
	Windows []Window `yaml:"windows"`
	// Source and Checked record where the price comes from and the date
	// (YYYY-MM-DD) it was last checked against it.
	Source  string `yaml:"source"`
	Checked string `yaml:"checked"`
}

// Window is a time-of-day price: on the given weekdays, from Start
// (inclusive) to End (exclusive), local time in the entry's zone.
type Window struct {
	// Name is reported in Cost.Window, e.g. "peak".
	Name string `yaml:"name"`
	// Days are weekdays: mon, tue, wed, thu, fri, sat, sun, or weekdays,
	// weekend, daily. Empty: daily.
	Days []string `yaml:"days"`
	// Start and End are HH:MM (or HH:MM:SS); End may be 24:00. A window
	// does not wrap past midnight: write two.
	Start string `yaml:"start"`
	End   string `yaml:"end"`
	// CacheHit, CacheMiss and Output are the prices per million tokens in
	// the window; all three are required.
	CacheHit  string `yaml:"cache_hit"`
	CacheMiss string `yaml:"cache_miss"`
	Output    string `yaml:"output"`
}
