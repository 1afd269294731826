// Package pricing is the price book and the money arithmetic of cost
// accounting and budgets: what a request costs, what the upstream's prefix
// cache saved, and which calendar period (day, week, month in a configured
// zone) a budget charge falls in and when it resets.
//
// It is a leaf: it imports nothing from dsgate. internal/server builds a
// Book from Options (filled by internal/config) with New, and a Calendar
// with NewCalendar; the request path resolves Book.Price once when a
// request starts (the price in force then, however long the request runs),
// reserves Price.Cost of the estimate against budgets, and settles with
// Price.Cost of the real usage. A Book is immutable; a runtime override
// (admin API) builds a new one and swaps the pointer.
//
// Money is Amount, int64 nano-units of a Currency, computed exactly in
// 128-bit integers and rounded once per request (see Amount). Prices are
// read from decimal strings, never through float64.
//
// # DeepSeek prices shipped (checked 2026-12-03)
//
// Source: DeepSeek's Models & Pricing page,
// https://api-docs.deepseek.com/quick_start/pricing (USD) and
// https://api-docs.deepseek.com/zh-cn/quick_start/pricing (CNY), stored
// snapshots (the newest dated by its URL ?check=20261115) read through the
// search tool on 2026-12-03; a third-party copy checked 2026-10-27 agrees.
// Per million tokens, off-peak / peak:
//
//	model                      cache hit        cache miss     output
//	deepseek-flash      USD    0.003 / 0.006    0.15 / 0.30    0.60 / 1.20
//	                    CNY    0.02  / 0.04     1    / 2       4    / 8
//	deepseek-v4-pro     USD    0.022 / 0.044    0.66 / 1.32    1.98 / 3.96
//	                    CNY    0.15  / 0.30     4.5  / 9       13.5 / 27
//
// deepseek-flash is DeepSeek-V4.1-Flash (V4.1-Flash-1017 on the latest
// snapshot); the legacy names deepseek-v4-flash and
// deepseek-v4-flash-vision-exp are still accepted, served by V4.1 Flash and
// billed at the Flash price. deepseek-v4-pro is DeepSeek-V4-Pro-0813 at its
// own price: third-party posts of 2026-09-10 said V4-Pro requests would be
// routed to V4.1 Flash from 2026-09-14, but the official page's later
// snapshots still list V4-Pro with the prices above, and the page is what
// is shipped.
//
// Peak hours (page footnote): Monday to Friday 09:00-12:00 and 14:00-18:00
// Beijing time (01:00-04:00 and 06:00-10:00 UTC), excluding Chinese public
// holidays; all other hours, weekends and holidays whole, are off-peak, at
// half the peak rate. The weekday is Beijing's (the Chinese page says
// 北京时间周一至周五). The shipped "cn" calendar holds the 2026 public
// holidays (State Council notice of 2025-11-04); 2027's had not been
// published when checked.
//
// History, for reconciling older usage (configure it with effective_from
// entries; only the current prices are shipped):
//
//   - until 2026-08-16 16:00 UTC, flat rates: deepseek-v4-flash USD 0.0028
//     hit, 0.14 miss, 0.28 output; deepseek-v4-pro USD 0.003625, 0.435,
//     0.87.
//   - from 2026-08-16 16:00 UTC (00:00 on 17 August in Beijing), peak and
//     off-peak, every day at first: deepseek-v4-flash USD off-peak 0.007,
//     0.22, 0.66 (CNY 0.05, 1.5, 4.5), peak double; deepseek-v4-pro as
//     today. Third-party trackers date the Monday-to-Friday rule (weekends
//     off-peak) from 2026-08-23.
//   - 2026-09-10: DeepSeek-V4.1-Flash GA as deepseek-flash at today's
//     Flash prices; deepseek-v4-flash billed as deepseek-flash. Reports
//     differ on the hour (2026-09-09 16:00 UTC or 2026-09-10 04:00 UTC).
//
// testdata/deepseek_pricing.yaml records the same figures with their
// sources and the worked examples the tests check.
package pricing
