package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsgate/dsgate/internal/store"
)

// Writer is the store method the recorder needs; store.UsageStore has it.
type Writer interface {
	AddUsage(ctx context.Context, deltas []store.UsageDelta) error
}

// Record is one request's usage.
type Record struct {
	Kind             store.PrincipalKind
	PrincipalID      string
	Model            string
	PromptTokens     int64
	CacheHitTokens   int64
	CompletionTokens int64
	// Cost and CostSaved are nano-units of Currency ("" when unpriced).
	Cost      int64
	CostSaved int64
	Currency  string
}

// Options configures a Recorder.
type Options struct {
	// FlushInterval is how often pending usage is written; default 1s.
	FlushInterval time.Duration
	// MaxBackoff caps the wait between retries of a failed flush; default 30s.
	MaxBackoff time.Duration
	// FlushTimeout bounds one store write; default 10s.
	FlushTimeout time.Duration
	Clock        func() time.Time
	Logger       *slog.Logger
}

// Stats are cumulative counters.
type Stats struct {
	Records       uint64 // Record calls
	Flushes       uint64 // successful store writes
	FlushFailures uint64 // failed store writes (their usage was kept)
	Pending       int    // buckets waiting to be written
}

// Recorder accumulates usage and writes it in batches. Safe for concurrent
// use; Run must be running for usage to reach the store.
type Recorder struct {
	w    Writer
	opts Options

	mu      sync.Mutex
	pending map[store.UsageKey]*store.UsageDelta

	flushMu sync.Mutex // one flush at a time

	records, flushes, failures atomic.Uint64
}

// New returns a recorder writing to w.
func New(w Writer, opts Options) *Recorder {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = 10 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Recorder{w: w, opts: opts, pending: make(map[store.UsageKey]*store.UsageDelta)}
}

// Record adds one request's usage. It takes a mutex for a map update and
// never waits on the store.
func (r *Recorder) Record(rec Record) {
	d := store.UsageDelta{Kind: rec.Kind, PrincipalID: rec.PrincipalID, Model: rec.Model, Day: r.opts.Clock(),
		Requests: 1, PromptTokens: rec.PromptTokens, CacheHitTokens: rec.CacheHitTokens, CompletionTokens: rec.CompletionTokens,
		Cost: rec.Cost, CostSaved: rec.CostSaved, Currency: rec.Currency}
	r.records.Add(1)
	r.mu.Lock()
	r.addLocked(d)
	r.mu.Unlock()
}

func (r *Recorder) addLocked(d store.UsageDelta) {
	k := d.UsageKey()
	if p, ok := r.pending[k]; ok {
		p.Requests += d.Requests
		p.PromptTokens += d.PromptTokens
		p.CacheHitTokens += d.CacheHitTokens
		p.CompletionTokens += d.CompletionTokens
		p.Cost += d.Cost
		p.CostSaved += d.CostSaved
		return
	}
	d.Day = k.Day
	r.pending[k] = &d
}

// Flush writes everything pending now. On failure the usage is put back
// for the next attempt and the error returned.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	if len(r.pending) == 0 {
		r.mu.Unlock()
		return nil
	}
	batch := make([]store.UsageDelta, 0, len(r.pending))
	for _, d := range r.pending {
		batch = append(batch, *d)
	}
	r.pending = make(map[store.UsageKey]*store.UsageDelta, len(batch))
	r.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.FlushTimeout)
	defer cancel()
	err := r.w.AddUsage(ctx, batch)
	if err == nil {
		r.flushes.Add(1)
		return nil
	}
	// AddUsage is one transaction, so nothing of the batch was applied. (A
	// commit whose acknowledgement is lost could be applied twice; that
	// needs a dropped connection at the moment of COMMIT.)
	r.failures.Add(1)
	r.mu.Lock()
	for _, d := range batch {
		r.addLocked(d)
	}
	r.mu.Unlock()
	return fmt.Errorf("writing usage: %w", err)
}

// Run flushes every FlushInterval, backing off after failures, until ctx
// ends; then it flushes once more (with FlushTimeout) and returns.
func (r *Recorder) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	t := time.NewTimer(r.opts.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.FlushTimeout)
			defer cancel()
			return r.Close(ctx)
		case <-t.C:
		}
		if err := r.Flush(ctx); err != nil {
			backoff = min(max(2*backoff, r.opts.FlushInterval), r.opts.MaxBackoff)
			r.opts.Logger.Warn("usage flush failed; will retry", "err", err, "retry_in", backoff)
			t.Reset(backoff)
			continue
		}
		backoff = 0
		t.Reset(r.opts.FlushInterval)
	}
}

// Close flushes what is pending, retrying until ctx ends.
func (r *Recorder) Close(ctx context.Context) error {
	wait := 50 * time.Millisecond
	for {
		err := r.Flush(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// Stats returns the counters.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	n := len(r.pending)
	r.mu.Unlock()
	return Stats{Records: r.records.Load(), Flushes: r.flushes.Load(), FlushFailures: r.failures.Load(), Pending: n}
}
