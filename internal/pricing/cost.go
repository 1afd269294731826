package pricing

import "math/bits"

// HeaderName is the response header that carries a request's cost.
const HeaderName = "X-Dsgate-Cost"

// Rates are prices per million tokens.
type Rates struct {
	// CacheHit is the price of prompt tokens served from the upstream's
	// prefix cache.
	CacheHit Amount
	// CacheMiss is the price of the other prompt tokens.
	CacheMiss Amount
	// Output is the price of completion tokens, reasoning tokens included.
	Output Amount
}

// Usage is what a request consumed, as the upstream reported it.
type Usage struct {
	// PromptTokens is all input tokens, cache hits included.
	PromptTokens int64
	// CacheHitTokens is the share of PromptTokens served from the
	// upstream's prefix cache (DeepSeek prompt_cache_hit_tokens, OpenAI
	// prompt_tokens_details.cached_tokens).
	CacheHitTokens int64
	// CompletionTokens is all output tokens. DeepSeek and OpenAI both count
	// reasoning tokens inside completion_tokens, so they are billed as
	// output without being added again.
	CompletionTokens int64
}

// Cost is the price of one request.
type Cost struct {
	// Amount is what the request costs: upstream spend, or the internal
	// price for a local engine.
	Amount Amount
	// Saved is what the upstream's prefix cache saved: the cache-hit tokens
	// at the cache-miss price minus what they cost. Amount+Saved is what
	// the request would have cost without cache hits.
	Saved Amount
	// Currency of Amount and Saved.
	Currency Currency
	// Window names the time-of-day window whose rates applied ("peak"), or
	// the entry's base name ("off-peak", "standard") outside every window.
	Window string
	// Internal marks an operator's own price (amortised GPU cost of a
	// local engine) rather than a provider's bill.
	Internal bool
}

// Undiscounted is what the request would have cost had no prompt token
// been a cache hit.
func (c Cost) Undiscounted() Amount { return satAdd(c.Amount, c.Saved) }

// Replayed is the cost of answering the same request from dsgate's own
// response cache: nothing is spent and the whole original cost counts as
// saved. The original's prefix-cache savings are not counted again.
func (c Cost) Replayed() Cost {
	c.Saved, c.Amount = c.Amount, 0
	return c
}

// AppendHeader appends the X-Dsgate-Cost value, "0.000624 USD", to dst.
func (c Cost) AppendHeader(dst []byte) []byte {
	dst = c.Amount.AppendText(dst)
	dst = append(dst, ' ')
	return append(dst, c.Currency...)
}

// Header is AppendHeader as a string.
func (c Cost) Header() string {
	var buf [40]byte
	return string(c.AppendHeader(buf[:0]))
}

// price computes the cost of u at r exactly: the sum of tokens × price per
// million in 128 bits, divided by a million once, rounded half to even.
// Negative counts are taken as zero and cache hits are capped at the
// prompt, so a malformed usage object never yields a negative cost.
func price(r Rates, u Usage) (amount, saved Amount) {
	prompt := nonNeg(u.PromptTokens)
	hit := min(nonNeg(u.CacheHitTokens), prompt)
	miss := prompt - hit
	out := nonNeg(u.CompletionTokens)

	var acc u128
	acc.addMul(hit, uint64(r.CacheHit))
	acc.addMul(miss, uint64(r.CacheMiss))
	acc.addMul(out, uint64(r.Output))
	amount = acc.perMillion()

	if r.CacheMiss > r.CacheHit {
		var s u128
		s.addMul(hit, uint64(r.CacheMiss-r.CacheHit))
		saved = s.perMillion()
	}
	return amount, saved
}

func nonNeg(n int64) uint64 {
	if n < 0 {
		return 0
	}
	return uint64(n)
}

// u128 is an unsigned 128-bit accumulator; sat records an overflow.
type u128 struct {
	hi, lo uint64
	sat    bool
}

func (a *u128) addMul(x, y uint64) {
	hi, lo := bits.Mul64(x, y)
	var c uint64
	a.lo, c = bits.Add64(a.lo, lo, 0)
	a.hi, c = bits.Add64(a.hi, hi, c)
	if c != 0 {
		a.sat = true
	}
}

// perMillion divides by 1e6 rounding half to even, saturating at
// MaxAmount.
func (a *u128) perMillion() Amount {
	const m = 1_000_000
	if a.sat || a.hi >= m {
		return MaxAmount
	}
	q, r := bits.Div64(a.hi, a.lo, m)
	if r > m/2 || (r == m/2 && q&1 == 1) {
		q++
	}
	if q > uint64(MaxAmount) {
		return MaxAmount
	}
	return Amount(q)
}

func satAdd(a, b Amount) Amount {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		if b > 0 {
			return MaxAmount
		}
		return -MaxAmount - 1
	}
	return s
}
