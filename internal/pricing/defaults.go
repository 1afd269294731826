package pricing

// DefaultsChecked is the date the shipped DeepSeek prices, windows and
// holidays were last checked against DeepSeek's Models & Pricing page.
const DefaultsChecked = "2026-12-03"

// DefaultsSource is the page the shipped prices come from (English, USD;
// the CNY figures are on /zh-cn/quick_start/pricing).
const DefaultsSource = "https://api-docs.deepseek.com/quick_start/pricing"

// deepseekRates are one DeepSeek model's prices per million tokens, off-peak
// and peak, in one currency.
type deepseekRates struct {
	hit, miss, out             string // off-peak
	peakHit, peakMiss, peakOut string
}

// deepseekPrices returns the figures of the Models & Pricing page as
// checked on DefaultsChecked, per model, in cur. Off-peak is exactly half of
// peak on every line.
func deepseekPrices(cur Currency, model string) deepseekRates {
	if cur == CNY {
		switch model {
		case "deepseek-flash":
			return deepseekRates{"0.02", "1", "4", "0.04", "2", "8"}
		default: // deepseek-v4-pro
			return deepseekRates{"0.15", "4.5", "13.5", "0.30", "9", "27"}
		}
	}
	switch model {
	case "deepseek-flash":
		return deepseekRates{"0.003", "0.15", "0.60", "0.006", "0.30", "1.20"}
	default: // deepseek-v4-pro
		return deepseekRates{"0.022", "0.66", "1.98", "0.044", "1.32", "3.96"}
	}
}

// deepseekAliases are names DeepSeek still accepts and bills as model: the
// V4 Flash names retired on 2026-09-10 are served by V4.1 Flash at the
// deepseek-flash price.
func deepseekAliases(model string) []string {
	if model == "deepseek-flash" {
		return []string{"deepseek-v4-flash", "deepseek-v4-flash-vision-exp"}
	}
	return nil
}

// Defaults returns the shipped prices of DeepSeek's cloud models in cur
// (USD or CNY; anything else is USD): deepseek-flash (DeepSeek-V4.1-Flash,
// also billed for the legacy deepseek-v4-flash names) and deepseek-v4-pro,
// with the weekday peak windows in Beijing time and the "cn" holiday
// calendar. See the package documentation for the figures and sources.
func Defaults(cur Currency) []ModelPrice {
	if cur != CNY {
		cur = USD
	}
	var out []ModelPrice
	for _, model := range []string{"deepseek-flash", "deepseek-v4-pro"} {
		r := deepseekPrices(cur, model)
		out = append(out, ModelPrice{
			Model:     model,
			Aliases:   deepseekAliases(model),
			Currency:  string(cur),
			TimeZone:  "Asia/Shanghai",
			Holidays:  "cn",
			BaseName:  "off-peak",
			CacheHit:  r.hit,
			CacheMiss: r.miss,
			Output:    r.out,
			Windows:   deepseekPeak(r),
			Source:    DefaultsSource,
			Checked:   DefaultsChecked,
		})
	}
	return out
}

// deepseekPeak is DeepSeek's peak schedule: Monday to Friday, 09:00-12:00
// and 14:00-18:00 Beijing time (01:00-04:00 and 06:00-10:00 UTC),
// excluding Chinese public holidays.
func deepseekPeak(r deepseekRates) []Window {
	w := func(start, end string) Window {
		return Window{Name: "peak", Days: []string{"weekdays"}, Start: start, End: end,
			CacheHit: r.peakHit, CacheMiss: r.peakMiss, Output: r.peakOut}
	}
	return []Window{w("09:00", "12:00"), w("14:00", "18:00")}
}

// DefaultCalendars returns the shipped holiday calendars: "cn", the days
// off of China's 2026 public holidays (State Council notice 国办发明电
// 〔2025〕7号 of 2025-11-04). The make-up working days on weekends
// (调休) are not listed: DeepSeek's peak applies Monday to Friday only, so
// they stay off-peak. 2027 was not yet published when checked; add it
// under calendars.cn in the configuration.
func DefaultCalendars() map[string][]string {
	return map[string][]string{
		"cn": {
			"2026-01-01..2026-01-03", // New Year
			"2026-02-15..2026-02-23", // Spring Festival
			"2026-04-04..2026-04-06", // Qingming
			"2026-05-01..2026-05-05", // Labour Day
			"2026-06-19..2026-06-21", // Dragon Boat
			"2026-09-25..2026-09-27", // Mid-Autumn
			"2026-10-01..2026-10-07", // National Day
		},
	}
}
