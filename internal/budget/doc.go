// Package budget enforces spending limits in money: an amount per day,
// week or month (calendar periods in one configured time zone, see
// pricing.Calendar) for an API key, an OAuth2 client or a team.
//
// A request is admitted when every budget that applies to it still has
// something left, and its estimate (pricing.Price.MaxCost: every prompt
// token a cache miss, every allowed completion token used) is reserved
// against each of them in the same atomic step, like the TPM limit
// reserves tokens. At settlement the reservation is replaced by the real
// cost (the difference is added, usually negative). A budget that has
// nothing left refuses with *ExhaustedError (HTTP 429, code
// budget_exhausted, with the instant it resets); one past its soft
// threshold admits with a Warning (a response header and a metric).
//
// # How far a burst can overshoot
//
// Admission checks spent+reserved < limit and adds the request's own
// estimate atomically, so once the budget is reached no request is
// admitted until something settles below it. Every request admitted saw
// less than the limit; the last one added at most its own estimate. With
// real costs no higher than their estimates, final spend is below
// limit + the largest single reservation, however many replicas and
// requests race (the Redis backend does check-and-add in one Lua script).
// Only a request that costs more than its estimate (a prompt that
// tokenizes to more tokens than the estimate assumed) can add more, by
// its own excess. A replica that dies between reserve and settle leaves
// its reservations counted until the period ends (errs on the safe side).
//
// Budgets apply to requests priced in their currency; a request priced in
// another currency (or not priced at all) is not charged to them.
//
// Backends: Memory (one process) and redis.Backend (shared by replicas).
package budget
