// Package ratelimit admits or rejects requests per principal: requests per
// minute (RPM), tokens per minute (TPM) and concurrent requests. It is step
// 7 of the request pipeline (429 + Retry-After).
//
// Limiter holds the policy (limits, reserve-then-reconcile of tokens,
// fail-open or fail-closed when the backend is down, counters); a Backend
// holds the state. MemoryBackend serves one replica; ratelimit/redis shares
// state between replicas. Both implement GCRA (the generic cell rate
// algorithm): one timestamp per limit, the "theoretical arrival time", and a
// request of n units is admitted if it fits within one period of burst.
//
// Flow per request:
//
//	t, err := lim.Acquire(ctx, p.LimitKey(), limits, estimatedTokens)
//	if err != nil { ... 429 with ratelimit.Headers(err) ... }
//	defer t.Done(ctx, realTokens) // refunds or charges the difference, frees the slot
//
// ratelimit imports only the standard library; it must not import config,
// server, httpapi or cli.
package ratelimit
