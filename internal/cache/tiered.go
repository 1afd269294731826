package cache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Tiered defaults.
const (
	DefaultTierTimeout      = 50 * time.Millisecond
	DefaultTierWriteTimeout = 2 * time.Second
	DefaultQueueSize        = 1024
	DefaultWorkers          = 4
	DefaultFailureThreshold = 3
	DefaultCooldown         = time.Second
)

// Tier is one level of a Tiered cache.
type Tier struct {
	Store Store
	// TTL is the lifetime of entries written to this tier; default 5 min.
	TTL time.Duration
	// Inline tiers (the memory tier) are read without a timeout and
	// written on the caller's goroutine. Other tiers are read with Timeout
	// and written by the background queue.
	Inline bool
	// Timeout bounds how long a request waits for one read; default the
	// store's ReadTimeout (ReadTimeouter), else 50 ms. A read that answers
	// later, within WriteTimeout, is not wasted: its entry is promoted to
	// the tiers above, so the next identical request hits.
	Timeout time.Duration
	// WriteTimeout bounds one background write or promotion; default 2 s.
	WriteTimeout time.Duration
}

// TieredOptions configure a Tiered cache.
type TieredOptions struct {
	// Tiers in read order: memory, redis, disk, s3. At least one.
	Tiers []Tier
	// QueueSize bounds pending background writes; when full, writes are
	// dropped and counted. Default 1024.
	QueueSize int
	// Workers run background writes; default 4.
	Workers int
	// FailureThreshold consecutive read errors make a tier skipped for
	// Cooldown, so a tier that is down costs nothing; defaults 3 and 1 s.
	FailureThreshold int
	Cooldown         time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives Debug records for tier errors; default discards.
	Logger *slog.Logger
}

// Hit is a cache answer and the tier it came from.
type Hit struct {
	Entry Entry
	// Tier is the Name of the store that answered: memory, redis, disk, s3.
	Tier string
}

// Tiered reads through several stores in order and promotes hits upwards.
// A slow or failing tier never fails a request and costs at most its read
// Timeout; its errors are counted in Stats. Background writes need Run.
type Tiered struct {
	tiers  []*tierState
	queue  chan job
	opts   TieredOptions
	logger *slog.Logger
	purges purges
}

type tierState struct {
	Tier
	dropped  atomic.Uint64
	timeouts atomic.Uint64
	lateHits atomic.Uint64
	// What the reads requests made of this tier found, for TierLookups.
	hits, misses, errs atomic.Uint64
	skipped            atomic.Uint64
	failures           atomic.Int64
	openUntilNs        atomic.Int64 // skip reads until this Unix ns
}

type job struct {
	ctx  context.Context // already WithoutCancel
	tier *tierState
	key  Key
	e    Entry
	ttl  time.Duration
	gen  uint64 // the purge generation the write began in
}

// NewTiered checks the options and returns a Tiered cache.
func NewTiered(o TieredOptions) (*Tiered, error) {
	if len(o.Tiers) == 0 {
		return nil, errors.New("tiered cache needs at least one tier")
	}
	o.QueueSize = defaultInt(o.QueueSize, DefaultQueueSize)
	o.Workers = defaultInt(o.Workers, DefaultWorkers)
	o.FailureThreshold = defaultInt(o.FailureThreshold, DefaultFailureThreshold)
	o.Cooldown = defaultDuration(o.Cooldown, DefaultCooldown)
	if o.Now == nil {
		o.Now = time.Now
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Tiered{queue: make(chan job, o.QueueSize), opts: o, logger: logger}
	for i, tier := range o.Tiers {
		if tier.Store == nil {
			return nil, fmt.Errorf("tier %d: nil store", i)
		}
		tier.TTL = defaultDuration(tier.TTL, DefaultMemoryTTL)
		def := DefaultTierTimeout
		if rt, ok := tier.Store.(ReadTimeouter); ok {
			def = rt.ReadTimeout()
		}
		tier.Timeout = defaultDuration(tier.Timeout, def)
		tier.WriteTimeout = defaultDuration(tier.WriteTimeout, DefaultTierWriteTimeout)
		t.tiers = append(t.tiers, &tierState{Tier: tier})
	}
	return t, nil
}

// Run processes background writes until ctx ends; writes still queued then
// are dropped (it is a cache). Run it once, for example in the server's
// errgroup.
func (t *Tiered) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, ts := range t.tiers {
		if w, ok := ts.Store.(Warmer); ok {
			wg.Go(func() { t.warm(ctx, ts, w) })
		}
	}
	for range t.opts.Workers {
		wg.Go(func() { t.work(ctx) })
	}
	wg.Wait()
	return nil
}

// warm opens a tier's connections ahead of its first read.
func (t *Tiered) warm(ctx context.Context, ts *tierState, w Warmer) {
	ctx, cancel := context.WithTimeout(ctx, ts.WriteTimeout)
	defer cancel()
	if err := w.Warm(ctx); err != nil {
		t.logger.Warn("cache tier not reachable at start", "cache", ts.Store.Name(), "err", err)
	}
}

func (t *Tiered) work(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-t.queue:
			t.write(j)
		}
	}
}

func (t *Tiered) write(j job) {
	defer func() {
		if r := recover(); r != nil {
			t.logger.Error("cache write panicked", "cache", j.tier.Store.Name(), "panic", r)
		}
	}()
	ctx, cancel := context.WithTimeout(j.ctx, j.tier.WriteTimeout)
	defer cancel()
	w := t.purges.begin(j)
	if w == nil {
		j.tier.dropped.Add(1) // purged while queued
		return
	}
	defer t.undoIfPurged(j, w) // a panicking Set included
	if err := j.tier.Store.Set(ctx, j.key, j.e, j.ttl); err != nil {
		t.logger.Debug("cache write failed", "cache", j.tier.Store.Name(), "err", err)
	}
}

// undoIfPurged ends the write w of j and, when a purge matched it while it
// was made (the purge may have missed what it wrote), deletes its key.
func (t *Tiered) undoIfPurged(j job, w *inflight) {
	if !t.purges.end(w) {
		return
	}
	defer t.purges.unhide(w)
	// Its own timeout: the write may have used up the one it had.
	ctx, cancel := context.WithTimeout(j.ctx, j.tier.WriteTimeout)
	defer cancel()
	if err := j.tier.Store.Delete(ctx, j.key); err != nil {
		t.logger.Debug("cache delete of a purged write failed", "cache", j.tier.Store.Name(), "err", err)
	}
}

// Get reads the tiers in order and returns the first hit, promoting it to
// the tiers above. It returns ErrMiss when no tier has the key, and ctx's
// error if ctx ended; tier errors count as misses.
func (t *Tiered) Get(ctx context.Context, key Key) (Hit, error) {
	gen := t.purges.gen.Load()
	for i, ts := range t.tiers {
		e, err := t.get(ctx, ts, key, t.tiers[:i], gen)
		if err == nil && t.purges.isHidden(ts, key) {
			err = ErrMiss
		}
		if err == nil {
			t.promote(ctx, key, e, t.tiers[:i], gen)
			return Hit{Entry: e, Tier: ts.Store.Name()}, nil
		}
		if ctx.Err() != nil {
			return Hit{}, fmt.Errorf("cache lookup: %w", context.Cause(ctx))
		}
	}
	return Hit{}, ErrMiss
}

func (t *Tiered) get(ctx context.Context, ts *tierState, key Key, upper []*tierState, gen uint64) (Entry, error) {
	e, err := t.read(ctx, ts, key, upper, gen)
	switch {
	case err == nil:
		ts.hits.Add(1)
	case errors.Is(err, errTierTimeout) || errors.Is(err, errTierSkipped) || ctx.Err() != nil:
		// counted in timeouts or skipped, or the caller left
	case errors.Is(err, ErrMiss):
		ts.misses.Add(1)
	default:
		ts.errs.Add(1)
	}
	return e, err
}

func (t *Tiered) read(ctx context.Context, ts *tierState, key Key, upper []*tierState, gen uint64) (Entry, error) {
	if ts.Inline {
		return ts.Store.Get(ctx, key)
	}
	now := t.opts.Now().UnixNano()
	if now < ts.openUntilNs.Load() {
		ts.skipped.Add(1)
		return Entry{}, errTierSkipped
	}
	e, err := t.getWithTimeout(ctx, ts, key, upper, gen)
	switch {
	case err == nil || errors.Is(err, ErrMiss):
		ts.failures.Store(0)
	case ctx.Err() == nil:
		if ts.failures.Add(1) >= int64(t.opts.FailureThreshold) {
			ts.openUntilNs.Store(now + int64(t.opts.Cooldown))
			ts.failures.Store(0)
		}
		t.logger.Debug("cache read failed", "cache", ts.Store.Name(), "err", err)
	}
	return e, err
}

type getResult struct {
	e   Entry
	err error
}

// getWithTimeout bounds the wait for a remote read by the tier's Timeout
// even when the store ignores its ctx (go-redis does unless
// ContextTimeoutEnabled): the read runs on its own goroutine. The read
// itself may take up to WriteTimeout; when it answers after the caller
// gave up, a hit is promoted to the upper tiers, so a slow first read (a
// new connection) still serves the next request.
func (t *Tiered) getWithTimeout(ctx context.Context, ts *tierState, key Key, upper []*tierState, gen uint64) (Entry, error) {
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), max(ts.WriteTimeout, ts.Timeout))
	stop := context.AfterFunc(ctx, rcancel) // the caller left: stop reading
	ch := make(chan getResult, 1)
	var waiting atomic.Bool
	waiting.Store(true)
	go func() {
		defer rcancel()
		e, err := ts.Store.Get(rctx, key)
		if waiting.CompareAndSwap(true, false) {
			ch <- getResult{e, err}
			return
		}
		if err == nil { // late: keep the entry for the next request
			ts.lateHits.Add(1)
			t.promote(rctx, key, e, upper, gen)
		}
	}()
	timer := time.NewTimer(ts.Timeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		stop()
		return r.e, r.err
	case <-timer.C:
	case <-ctx.Done():
	}
	if !waiting.CompareAndSwap(true, false) {
		r := <-ch // answered just now
		stop()
		return r.e, r.err
	}
	if ctx.Err() != nil {
		return Entry{}, fmt.Errorf("reading %s: %w", ts.Store.Name(), context.Cause(ctx))
	}
	stop() // the read goes on in the background, bounded by WriteTimeout
	ts.timeouts.Add(1)
	return Entry{}, fmt.Errorf("reading %s: %w", ts.Store.Name(), errTierTimeout)
}

// errTierSkipped is the miss of a tier skipped while it cools down.
var errTierSkipped = fmt.Errorf("tier cooling down after failures: %w", ErrMiss)

// errTierTimeout is the error of a read that outlasted the tier's Timeout.
var errTierTimeout = errors.New("tier read timed out")

// promote copies a hit into the tiers above the one that answered, for the
// smaller of each tier's TTL and the entry's remaining lifetime, unless a
// purge since the read began (generation gen) matched it.
func (t *Tiered) promote(ctx context.Context, key Key, e Entry, upper []*tierState, gen uint64) {
	for _, ts := range upper {
		ttl := ts.TTL
		if !e.ExpiresAt.IsZero() {
			ttl = min(ttl, e.ExpiresAt.Sub(t.opts.Now()))
		}
		if ttl <= 0 {
			continue
		}
		t.setTier(ctx, ts, key, e, ttl, gen)
	}
}

func (t *Tiered) setTier(ctx context.Context, ts *tierState, key Key, e Entry, ttl time.Duration, gen uint64) {
	if ts.Inline {
		if !t.purges.current(gen, e.Model) {
			return // a late promotion of what a purge removed
		}
		if err := ts.Store.Set(ctx, key, e, ttl); err != nil {
			t.logger.Debug("cache write failed", "cache", ts.Store.Name(), "err", err)
		}
		if !t.purges.current(gen, e.Model) {
			// The purge ran meanwhile and may have missed it.
			if err := ts.Store.Delete(ctx, key); err != nil {
				t.logger.Debug("cache delete of a purged write failed", "cache", ts.Store.Name(), "err", err)
			}
		}
		return
	}
	select {
	case t.queue <- job{ctx: context.WithoutCancel(ctx), tier: ts, key: key, e: e, ttl: ttl, gen: gen}:
	default:
		ts.dropped.Add(1)
	}
}

// Set stores a complete answer in every tier: inline tiers now, the others
// through the background queue. It never blocks on a remote tier; failures
// are counted in Stats, not returned.
func (t *Tiered) Set(ctx context.Context, key Key, e Entry) {
	gen := t.purges.gen.Load()
	for _, ts := range t.tiers {
		t.setTier(ctx, ts, key, e, ts.TTL, gen)
	}
}

// Delete removes key from every tier, synchronously.
func (t *Tiered) Delete(ctx context.Context, key Key) error {
	var errs []error
	for _, ts := range t.tiers {
		if err := ts.Store.Delete(ctx, key); err != nil {
			errs = append(errs, fmt.Errorf("deleting from %s: %w", ts.Store.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Purge removes the entries f matches from every tier, synchronously, and
// returns the count removed per tier name.
//
// Writes begun before it (queued, under way, or late promotions) do not
// bring back what it removed: those matching f are dropped, or deleted once
// made and hidden from Get until then.
func (t *Tiered) Purge(ctx context.Context, f Filter) (map[string]int, error) {
	t.purges.purged(f)
	counts := make(map[string]int, len(t.tiers))
	var errs []error
	for _, ts := range t.tiers {
		n, err := ts.Store.Purge(ctx, f)
		counts[ts.Store.Name()] = n
		if err != nil {
			errs = append(errs, fmt.Errorf("purging %s: %w", ts.Store.Name(), err))
		}
	}
	return counts, errors.Join(errs...)
}

// Stats returns each tier's counters in read order, with Dropped and
// Timeouts filled in and reads skipped during a cooldown counted as misses.
func (t *Tiered) Stats() []TierStats {
	out := make([]TierStats, 0, len(t.tiers))
	for _, ts := range t.tiers {
		s := ts.Store.Stats()
		s.Dropped = ts.dropped.Load()
		s.Timeouts = ts.timeouts.Load()
		s.LateHits = ts.lateHits.Load()
		s.Misses += ts.skipped.Load()
		out = append(out, s)
	}
	return out
}

// TierLookups counts what the reads of one tier found, as requests saw
// them: unlike a store's own Stats, a read abandoned at the tier's Timeout
// is a timeout even if it answers later, and a read skipped while the tier
// cools down after failures is counted as skipped. Hits over the sum of
// all five is the tier's hit ratio.
type TierLookups struct {
	Tier                                    string
	Hits, Misses, Errors, Timeouts, Skipped uint64
}

// Lookups returns each tier's TierLookups in read order.
func (t *Tiered) Lookups() []TierLookups {
	out := make([]TierLookups, 0, len(t.tiers))
	for _, ts := range t.tiers {
		out = append(out, TierLookups{
			Tier: ts.Store.Name(), Hits: ts.hits.Load(), Misses: ts.misses.Load(), Errors: ts.errs.Load(),
			Timeouts: ts.timeouts.Load(), Skipped: ts.skipped.Load(),
		})
	}
	return out
}

// QueueLen is the number of pending background writes.
func (t *Tiered) QueueLen() int { return len(t.queue) }

func defaultInt(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

func defaultDuration(v, d time.Duration) time.Duration {
	if v <= 0 {
		return d
	}
	return v
}
