package gateway

import (
	"context"
	"errors"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/openai"
)

// Cache is the response cache as the gateway uses it (*cache.Tiered).
type Cache interface {
	Get(ctx context.Context, key cache.Key) (cache.Hit, error)
	Set(ctx context.Context, key cache.Key, e cache.Entry)
}

// CacheObserver counts cache lookups; nil is fine.
type CacheObserver interface {
	CacheResult(tier, result string)
}

// Cache results, as reported in Result.Cache and the x-dsgate-cache header.
const (
	CacheHit    = "hit"
	CacheMiss   = "miss"
	CacheBypass = "bypass"
)

// cacheLookup is what the cache step decided for one call.
type cacheLookup struct {
	key         cache.Key
	read, write bool
}

// lookup decides whether c may use the cache and derives its key. The key
// covers the public model, the upstream models behind it and the route's
// version, every output-changing parameter, and the caller's scope.
func (g *Gateway) lookup(c *Call, r *Route) (cacheLookup, bool) {
	if g.opts.Cache == nil || r.Cache.Disabled || g.mayRelay(c, r) {
		return cacheLookup{}, false
	}
	d := cache.ParseCacheControl(c.CacheControl)
	if !d.Read() && !d.Write() {
		return cacheLookup{}, false
	}
	if ok, _ := sampling(c.Req).Cacheable(r.Cache.Policy, r.thinkingEffective(c)); !ok {
		return cacheLookup{}, false
	}
	scope := c.CacheScope
	if r.Cache.Shared {
		scope = "shared"
	}
	key, err := cache.DeriveKey(c.Req.Endpoint.String(), c.Body, cache.KeyParts{
		PublicModel: r.Name, UpstreamModel: r.upstreamModels, ModelVersion: r.Cache.Version, Scope: scope,
	})
	if err != nil {
		return cacheLookup{}, false
	}
	return cacheLookup{key: key, read: d.Read(), write: d.Write()}, true
}

// sampling is what decides a parsed request's cacheability: the body is
// not decoded again (cache.CacheableRequest does that, with encoding/json).
func sampling(q *openai.Request) cache.Sampling {
	return cache.Sampling{Embedding: q.Endpoint == openai.EndpointEmbedding, Temperature0: q.Temperature0,
		Seed: q.Seed, Choices: q.N == 1, BestOfOther: q.BestOfOther}
}

// cached runs a call through the cache: a hit answers at once; a miss is
// coalesced with identical calls in flight, so one upstream call answers
// them all, and its answer is stored when complete. miss runs the call
// for real and returns the entry to share.
//
// When follow is set (streams), the leader's chunks are fanned out live:
// miss publishes each chunk and followers get it through follow as the
// leader's client does (cache.Group.DoStream).
func (g *Gateway) cached(ctx context.Context, c *Call, r *Route, l cacheLookup,
	hit func(cache.Hit) (*Result, error), miss func(ctx context.Context, publish func([]byte)) (*Result, cache.Entry, error),
	follow func([]byte) error) (*Result, error) {
	if l.read {
		h, err := g.opts.Cache.Get(ctx, l.key)
		if err == nil {
			g.observeCache(h.Tier, CacheHit)
			c.onCache(CacheHit, h.Tier)
			res, err := hit(h)
			if res != nil {
				res.Cache, res.CacheTier = CacheHit, h.Tier
			}
			return res, err
		}
		if ctx.Err() != nil {
			g.observeCache("all", CacheMiss)
			return &Result{}, ctx.Err()
		}
	}
	// A live follower learns it is a coalesced hit before its first chunk,
	// so the transport can still put it in the response headers.
	followed := false
	if follow != nil {
		chunk := follow
		follow = func(p []byte) error {
			if !followed {
				followed = true
				c.onCache(CacheHit, "coalesced")
			}
			return chunk(p)
		}
	}
	var own *Result
	lead := func(ctx context.Context, publish func([]byte)) (cache.Entry, error) {
		c.onCache(CacheMiss, "")
		res, e, err := miss(ctx, publish)
		own = res
		g.store(ctx, r, l, res, e, err)
		if err == nil && res.Fallback {
			// The canned fallback_response is this caller's answer, not an
			// entry to share: a stream's has no recorded chunk at all.
			return cache.Entry{}, errNotShared
		}
		return e, err
	}
	var e cache.Entry
	var shared bool
	var err error
	if follow == nil {
		e, shared, err = g.group.Do(ctx, l.key, func(ctx context.Context) (cache.Entry, error) { return lead(ctx, nil) })
	} else {
		e, shared, err = g.group.DoStream(ctx, l.key, lead, follow)
	}
	if errors.Is(err, errNotShared) && !shared {
		err = nil // the leader has its answer in own
	}
	if l.read { // a coalesced answer is a hit of its own kind; the rest missed
		if shared && err == nil {
			g.observeCache("coalesced", CacheHit)
		} else {
			g.observeCache("all", CacheMiss)
		}
	}
	if errors.Is(err, errNotShared) {
		if followed {
			return &Result{}, cache.ErrLeaderLeft
		}
		// The call joined ended with no answer to share (every target
		// failed): the joiner makes its own call, which may find a target
		// back or ends with the fallback_response itself.
		c.onCache(CacheMiss, "")
		res, e, err := miss(ctx, nil)
		g.store(ctx, r, l, res, e, err)
		if res == nil {
			res = &Result{}
		}
		res.Cache = CacheMiss
		return res, err
	}
	if !shared {
		if own == nil {
			own = &Result{}
		}
		own.Cache = CacheMiss
		return own, err
	}
	if err != nil {
		return &Result{}, err
	}
	if !followed {
		c.onCache(CacheHit, "coalesced")
	}
	res, err := hit(cache.Hit{Entry: e, Tier: "coalesced"})
	if res != nil {
		res.Cache, res.CacheTier = CacheHit, "coalesced"
	}
	return res, err
}

// errNotShared is what a coalesced call's leader hands its joiners when
// its answer is its own only (the fallback_response).
var errNotShared = errors.New("the coalesced call has no answer to share")

// store keeps the answer of a miss when the lookup allows writing. Only
// the model asked for answers for its key: the key covers that model's
// upstream models, so a fallback model's answer (or the canned
// fallback_response) stored under it would be replayed to the model's
// callers for the whole TTL, long after the model is back.
func (g *Gateway) store(ctx context.Context, r *Route, l cacheLookup, res *Result, e cache.Entry, err error) {
	if err != nil || !l.write || res.Fallback || res.Model != r.Name || !res.mayStore(e) {
		return
	}
	g.opts.Cache.Set(context.WithoutCancel(ctx), l.key, e)
	res.Stored = true
}

// storeVerdict is whether a miss's answer may be stored, when the miss
// already decoded it to build the entry (cache.NewCheckedEntry).
type storeVerdict uint8

const (
	storeUnchecked storeVerdict = iota // cache.Storable decides
	storeYes
	storeNo
)

// mayStore reports whether e, the entry of this miss, may be stored.
func (res *Result) mayStore(e cache.Entry) bool {
	switch res.storable {
	case storeYes:
		return true
	case storeNo:
		return false
	}
	ok, _ := cache.Storable(e.Body)
	return ok
}

func (g *Gateway) observeCache(tier, result string) {
	if g.opts.CacheObserver != nil {
		g.opts.CacheObserver.CacheResult(tier, result)
	}
}

// completeCached is Complete through the cache.
func (g *Gateway) completeCached(ctx context.Context, c *Call, r *Route, l cacheLookup) (*Result, error) {
	return g.cached(ctx, c, r, l,
		func(h cache.Hit) (*Result, error) {
			return hitResult(h.Entry.Body), nil
		},
		func(ctx context.Context, _ func([]byte)) (*Result, cache.Entry, error) {
			res, err := g.complete(ctx, c, r)
			if err != nil {
				return res, cache.Entry{}, err
			}
			e, ok, err := cache.NewCheckedEntry(res.Body, nil, r.Name, g.opts.Now())
			res.storable = storeNo
			if ok {
				res.storable = storeYes
			}
			return res, e, err
		}, nil)
}

// streamCached is Stream through the cache. The leader streams to its own
// client as usual while its chunks are recorded; hits and coalesced
// followers get each chunk as the leader's client does; hits (and
// followers of a non-streaming leader) get the finished answer replayed in
// the same shape.
func (g *Gateway) streamCached(ctx context.Context, c *Call, r *Route, l cacheLookup, sink Sink) (*Result, error) {
	live := &cache.Follower{IncludeUsage: c.Req.IncludeUsage, Send: func(p []byte) error { return flushData(sink, p) }}
	res, err := g.cached(ctx, c, r, l,
		func(h cache.Hit) (*Result, error) {
			if h.Tier == "coalesced" && live.Started() {
				if err := live.Finish(h.Entry); err != nil {
					return &Result{Started: true}, err
				}
				return endStream(sink, h.Entry.Body)
			}
			chunks, err := h.Entry.Stream(c.Req.IncludeUsage)
			if err != nil {
				return &Result{}, err
			}
			for _, ch := range chunks {
				if err := sink.Data(ch); err != nil {
					return &Result{Started: true}, err
				}
			}
			return endStream(sink, h.Entry.Body)
		},
		func(ctx context.Context, publish func([]byte)) (*Result, cache.Entry, error) {
			rec := &recorder{publish: publish}
			res, err := g.stream(ctx, c, r, sink, rec.record)
			if err != nil {
				return res, cache.Entry{}, err
			}
			body, err := cache.AssembleStream(rec.chunks)
			if err != nil {
				return res, cache.Entry{}, err
			}
			e, ok, err := cache.NewCheckedEntry(body, rec.stored(), r.Name, g.opts.Now())
			res.storable = storeNo
			if ok {
				res.storable = storeYes
			}
			return res, e, err
		}, live.Chunk)
	if res != nil && live.Started() {
		res.Started = true
	}
	return res, err
}

// flushData writes one payload and flushes it, so a live follower gets
// each chunk when the leader's client does.
func flushData(sink Sink, p []byte) error {
	if err := sink.Data(p); err != nil {
		return err
	}
	return flush(sink)
}

// endStream ends a stream served from a cached or coalesced answer.
func endStream(sink Sink, body []byte) (*Result, error) {
	if err := sink.Data(doneData); err != nil {
		return &Result{Started: true}, err
	}
	res := hitResult(body)
	res.Started = true
	return res, flush(sink)
}

var doneData = []byte("[DONE]")

// hitResult describes an answer served from the cache: no upstream, and
// the usage the answer reports (a hit costs no upstream tokens; accounting
// is told so through Result.Cache).
func hitResult(body []byte) *Result {
	res := &Result{Body: body}
	res.Usage, res.HasUsage = openai.UsageOf(body)
	return res
}

// recorder keeps copies of a stream's chunks, the usage-only chunk
// included even when the client did not ask for it, and publishes each to
// the followers of a coalesced call.
type recorder struct {
	chunks  [][]byte
	buf     []byte       // the copies, one after the other
	publish func([]byte) // nil: no followers to feed
}

// record copies p to the end of buf: a stream's copies cost an
// allocation each time buf doubles, not one per chunk. A copy stays
// valid when buf moves (the old array keeps it), and nothing is written
// over it (its capacity ends with it).
func (r *recorder) record(p []byte) {
	if r.buf == nil {
		// A stream's first KiB and 32 chunks without doubling from a few
		// bytes up; an open stream that sends little holds no more.
		r.buf = make([]byte, 0, max(len(p), 1024))
		r.chunks = make([][]byte, 0, 32)
	}
	start := len(r.buf)
	r.buf = append(r.buf, p...)
	cp := r.buf[start:len(r.buf):len(r.buf)]
	r.chunks = append(r.chunks, cp)
	if r.publish != nil {
		r.publish(cp)
	}
}

// stored is the chunks in one array of their exact size, for the entry
// the cache keeps: buf's spare room and earlier arrays are not kept with
// it (the memory tier counts an entry's bytes by its chunks).
func (r *recorder) stored() [][]byte {
	n := 0
	for _, c := range r.chunks {
		n += len(c)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(r.chunks))
	for i, c := range r.chunks {
		start := len(buf)
		buf = append(buf, c...)
		out[i] = buf[start:len(buf):len(buf)]
	}
	return out
}
