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

// JournalWriter is what a recorder with a journal needs: adding usage and
// the journal's mark in one transaction. store.UsageStore has it.
type JournalWriter interface {
	Writer
	AddJournalUsage(ctx context.Context, deltas []store.UsageDelta, journal string, seq uint64) error
	JournalMark(ctx context.Context, journal string) (uint64, error)
}

// Record is one request's usage.
type Record struct {
	Kind        store.PrincipalKind
	PrincipalID string
	Model       string
	// At is when the request started: the record counts in that hour's
	// bucket, the hour its audit record (request_at) and its price are of.
	// Zero: the recorder's clock when Record is called.
	At               time.Time
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
	// Journal is the path of the journal file (see Open); empty: none.
	Journal string
	// MaxJournalBytes is the size past which the journal is cut back once
	// everything in it is stored; default 1 MiB. While the store refuses
	// writes, a journal past 64 times this is rewritten as the pending
	// totals (one line per bucket), so it stays bounded by the number of
	// buckets rather than growing with every request.
	MaxJournalBytes int64
	Clock           func() time.Time
	Logger          *slog.Logger
}

// Stats are cumulative counters.
type Stats struct {
	Records       uint64 // Record calls
	Flushes       uint64 // successful store writes
	FlushFailures uint64 // failed store writes (their usage was kept)
	JournalErrors uint64 // records the journal could not take (kept in memory)
	Dropped       uint64 // buckets the store refused as invalid (logged, never stored)
	Compactions   uint64 // journal rewrites as the pending totals during store failures
	Replayed      int    // journal records replayed at Open
	Pending       int    // buckets waiting to be written
}

// Recorder accumulates usage and writes it in batches. Safe for concurrent
// use; Run must be running for usage to reach the store.
type Recorder struct {
	w    Writer
	opts Options

	mu      sync.Mutex
	pending map[store.UsageKey]*store.UsageDelta
	// With a journal: jw writes the pending usage with the journal's mark,
	// seq is the number of the last record journaled and stored that of
	// the last one in the store. All under mu.
	jw       JournalWriter
	journal  *journal
	seq      uint64
	stored   uint64
	replayed int

	flushMu sync.Mutex // one flush at a time

	records, flushes, failures, journalErrors, dropped, compactions atomic.Uint64
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
	if opts.MaxJournalBytes <= 0 {
		opts.MaxJournalBytes = 1 << 20
	}
	return &Recorder{w: w, opts: opts, pending: make(map[store.UsageKey]*store.UsageDelta)}
}

// Open returns a recorder that journals every record to opts.Journal
// before counting it, so usage survives a crash: the records the store
// does not have yet (those after the journal's mark) are pending again at
// once, and each is added exactly once. It fails if another process holds
// the journal (ErrJournalLocked) or the mark cannot be read. Close releases
// the journal.
func Open(ctx context.Context, w JournalWriter, opts Options) (*Recorder, error) {
	r := New(w, opts)
	j, entries, err := openJournal(opts.Journal)
	if err != nil {
		return nil, err
	}
	mark, err := w.JournalMark(ctx, j.id)
	if err != nil {
		j.close()
		return nil, err
	}
	r.jw, r.journal, r.seq, r.stored = w, j, mark, mark
	for _, e := range entries {
		r.seq = max(r.seq, e.seq)
		if e.seq > mark {
			r.addLocked(e.delta)
			r.replayed++
		}
	}
	if r.replayed == 0 && r.seq == mark {
		if err := j.reset(true); err != nil {
			j.close()
			return nil, fmt.Errorf("usage journal: %w", err)
		}
	}
	if r.replayed > 0 {
		r.opts.Logger.Info("usage journal replayed", "records", r.replayed, "journal", opts.Journal)
	}
	if j.damaged > 0 {
		r.opts.Logger.Warn("usage journal lines damaged (a power loss?), their records lost", "lines", j.damaged, "journal", opts.Journal)
	}
	return r, nil
}

// Record adds one request's usage. It takes a mutex for a map update and
// never waits on the store.
func (r *Recorder) Record(rec Record) {
	at := rec.At
	if at.IsZero() {
		at = r.opts.Clock()
	}
	d := store.UsageDelta{Kind: rec.Kind, PrincipalID: storable(rec.PrincipalID), Model: storable(rec.Model), Day: at,
		Requests: 1, PromptTokens: rec.PromptTokens, CacheHitTokens: rec.CacheHitTokens, CompletionTokens: rec.CompletionTokens,
		Cost: rec.Cost, CostSaved: rec.CostSaved, Currency: storable(rec.Currency)}
	r.records.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.journal != nil {
		r.seq++
		if err := r.journal.append(r.seq, &d); err != nil {
			// Still counted, and stored by the next flush unless the
			// process dies first.
			r.journalErrors.Add(1)
			r.opts.Logger.Error("usage journal write failed", "err", err)
		}
		if t := r.journal.trouble; t != "" {
			r.journal.trouble = ""
			r.opts.Logger.Warn(t, "journal", r.opts.Journal)
		}
	}
	r.addLocked(d)
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
	p := new(store.UsageDelta) // (not &d: d would be on the heap for every call)
	*p = d
	p.Day, p.Hour = k.Day, k.Hour
	r.pending[k] = p
}

// Flush writes everything pending now. On failure the usage is put back
// for the next attempt and the error returned.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	if r.journal != nil {
		if cut, err := r.journal.checkCut(); cut || err != nil {
			r.opts.Logger.Warn("usage journal cut by another process; its header and length put back, the records it lost are stored by this flush",
				"journal", r.opts.Journal, "err", err)
		}
	}
	if len(r.pending) == 0 {
		r.mu.Unlock()
		return nil
	}
	batch := make([]store.UsageDelta, 0, len(r.pending))
	for _, d := range r.pending {
		batch = append(batch, *d)
	}
	r.pending = make(map[store.UsageKey]*store.UsageDelta, len(batch))
	seq := r.seq // batch holds every journaled record up to seq
	r.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.FlushTimeout)
	defer cancel()
	err := r.write(ctx, batch, seq)
	if errors.Is(err, store.ErrInvalidData) && len(batch) > 1 {
		// One row may be what the store refuses (a name it cannot hold):
		// write them one by one so that the rest is not held back forever.
		batch, err = r.writeEach(ctx, batch, seq)
	}
	if err == nil {
		r.flushes.Add(1)
		r.stored = seq
		r.compact()
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
	r.compactPendingLocked()
	r.mu.Unlock()
	return fmt.Errorf("writing usage: %w", err)
}

// write stores batch in one transaction, with the journal's mark moved to
// seq when there is a journal.
func (r *Recorder) write(ctx context.Context, batch []store.UsageDelta, seq uint64) error {
	if r.journal != nil {
		return r.jw.AddJournalUsage(ctx, batch, r.journal.id, seq)
	}
	return r.w.AddUsage(ctx, batch)
}

// writeEach stores the buckets of a refused batch one at a time and drops
// (logs and counts) each one the store refuses as invalid data; the
// journal's mark moves to seq only after the last one. It returns the
// buckets not written when another error stopped it, and that error.
// (A crash in the middle replays the buckets written so far a second
// time; this path runs only after a batch was refused.)
func (r *Recorder) writeEach(ctx context.Context, batch []store.UsageDelta, seq uint64) ([]store.UsageDelta, error) {
	for i := range batch {
		err := r.write(ctx, batch[i:i+1], r.stored)
		if err == nil {
			continue
		}
		if !errors.Is(err, store.ErrInvalidData) {
			return batch[i:], err
		}
		r.dropped.Add(1)
		d := &batch[i]
		r.opts.Logger.Error("usage row refused by the store; dropped", "err", err, "kind", d.Kind,
			"principal", clip(d.PrincipalID), "model", clip(d.Model), "requests", d.Requests,
			"prompt_tokens", d.PromptTokens, "completion_tokens", d.CompletionTokens)
	}
	if r.journal == nil {
		return nil, nil
	}
	return nil, r.jw.AddJournalUsage(ctx, nil, r.journal.id, seq)
}

// journalGrowth is how many times MaxJournalBytes the journal may reach
// while flushes fail before it is rewritten as the pending totals.
const journalGrowth = 64

// compactPendingLocked rewrites an overgrown journal as the pending
// buckets, numbered on from the store's mark: replaying it adds exactly
// what is pending. Under mu (and flushMu), after a failed flush.
func (r *Recorder) compactPendingLocked() {
	if r.journal == nil || r.journal.size < journalGrowth*r.opts.MaxJournalBytes {
		return
	}
	var b []byte
	seq := r.stored
	for _, d := range r.pending {
		seq++
		b = appendEntry(b, seq, d)
	}
	if err := r.journal.rewrite(b); err != nil {
		r.journalErrors.Add(1)
		r.opts.Logger.Error("usage journal compaction failed", "err", err)
		return
	}
	r.seq = seq
	r.compactions.Add(1)
	r.opts.Logger.Warn("usage journal rewritten as the pending totals while the store refuses writes",
		"buckets", len(r.pending), "bytes", r.journal.size)
}

// compact cuts the journal back once it is large and every record in it
// is stored. Called after a successful flush, under flushMu.
func (r *Recorder) compact() {
	if r.journal == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seq != r.stored || r.journal.size < r.opts.MaxJournalBytes {
		return
	}
	if err := r.journal.reset(true); err != nil {
		r.journalErrors.Add(1)
		r.opts.Logger.Error("usage journal compaction failed", "err", err)
	}
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

// Close flushes what is pending, retrying until ctx ends, and releases the
// journal (what is not stored stays in it for the next start).
func (r *Recorder) Close(ctx context.Context) error {
	wait := 50 * time.Millisecond
	for {
		err := r.Flush(ctx)
		if err == nil {
			return r.closeJournal()
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err(), r.closeJournal())
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// closeJournal cuts the journal back if everything is stored and closes
// it. Records that come after are kept in memory only.
func (r *Recorder) closeJournal() error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	j := r.journal
	if j == nil {
		return nil
	}
	r.journal = nil
	var err error
	if r.seq == r.stored {
		err = j.reset(false)
	}
	return errors.Join(err, j.close())
}

// Stats returns the counters.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	n := len(r.pending)
	r.mu.Unlock()
	return Stats{Records: r.records.Load(), Flushes: r.flushes.Load(), FlushFailures: r.failures.Load(),
		JournalErrors: r.journalErrors.Load(), Dropped: r.dropped.Load(), Compactions: r.compactions.Load(), Replayed: r.replayed, Pending: n}
}
