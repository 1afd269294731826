// Package cache is dsgate's multi-level response cache.
//
// It owns four things, each in its own file:
//
//   - key derivation (key.go, canonical.go): a SHA-256 over a canonical
//     encoding of the request that ignores key order, number spelling,
//     whitespace and fields that do not change the output (stream, user, ...);
//   - policy (policy.go): which requests may be served from or written to the
//     cache, which answers are complete enough to keep, and Cache-Control
//     opt-outs;
//   - entries and their stream conversions (entry.go, stream.go,
//     textstream.go, envelope.go): a stored answer is the non-stream JSON body
//     plus, optionally, the original SSE payloads, and can be replayed as
//     either shape;
//   - storage: the Store interface (store.go), the in-process Memory tier
//     (memory.go), Tiered which layers several stores (tiered.go), and Group
//     which coalesces concurrent identical misses (group.go).
//
// Heavy backends live in subpackages: cache/redis, cache/disk (Pebble) and
// cache/s3 (any S3-compatible store). cache/cachetest holds the conformance
// suite every Store passes.
//
// In the request pipeline the gateway consults the cache after
// authorisation and rate limiting and before upstream selection (step 9), and
// fills it after a complete answer (step 13). A miss is not an error. In
// outline:
//
//	dir := cache.ParseCacheControl(r.Header.Get("Cache-Control"))
//	if ok, _ := cache.Cacheable(body, policyFor(model)); !ok || !dir.Write() {
//		return callUpstream(ctx)
//	}
//	key, err := cache.DeriveKey("chat.completions", body, cache.KeyParts{...})
//	if dir.Read() {
//		if hit, err := tiered.Get(ctx, key); err == nil {
//			return replay(hit.Entry) // Entry.Body, or Entry.Stream(includeUsage)
//		}
//	}
//	e, shared, err := group.Do(ctx, key, func(ctx context.Context) (cache.Entry, error) {
//		body, chunks := callUpstream(ctx) // a streaming leader streams here
//		if ok, _ := cache.Storable(body); ok {
//			e, err := cache.NewEntry(body, chunks, publicModel, now)
//			tiered.Set(ctx, key, e)
//		}
//		return e, err
//	})
//	// shared waiters replay e like a hit
//
// This package must not import internal/config, internal/server,
// internal/httpapi or internal/cli; it takes its own Options.
package cache
