package batch

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/store"
)

// Options configure a Manager.
type Options struct {
	Store store.BatchStore
	Blobs Blobs
	Exec  *Executor
	// Workers bounds the requests in flight across all jobs. Default 8.
	Workers int
	// MaxFileBytes bounds an uploaded file. Default 200 MiB (OpenAI's limit).
	MaxFileBytes int64
	// MaxLines bounds the requests of one batch. Default 50000.
	MaxLines int
	// MaxLineBytes bounds one input line. Default 4 MiB.
	MaxLineBytes int
	// PollInterval is how often the store is checked for jobs created or
	// cancelled elsewhere (another replica). Default 1s.
	PollInterval time.Duration
	// FileTTL is the lifetime of uploaded batch files and of output files.
	// Default 30 days.
	FileTTL time.Duration
	// CompletionWindow is the time a batch has to finish ("24h" is the
	// only value clients may ask for). Default 24h; tests shorten it.
	CompletionWindow time.Duration
	Logger           *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Quota bounds each principal's uploads and stored bytes (quota.go).
	Quota QuotaOptions
}

// Manager runs Batch API jobs and serves the Files and Batch APIs.
type Manager struct {
	o       Options
	sem     chan struct{} // one slot per in-flight request
	wake    chan struct{}
	mu      sync.Mutex
	running map[string]context.CancelFunc // job id -> cancels its dispatch
	jobs    sync.WaitGroup
	quota   *quota
}

// NewManager returns a Manager; Run starts its work.
func NewManager(o Options) *Manager {
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 200 << 20
	}
	if o.MaxLines <= 0 {
		o.MaxLines = 50000
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 4 << 20
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.FileTTL <= 0 {
		o.FileTTL = 30 * 24 * time.Hour
	}
	if o.CompletionWindow <= 0 {
		o.CompletionWindow = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Manager{o: o, sem: make(chan struct{}, o.Workers), wake: make(chan struct{}, 1),
		running: map[string]context.CancelFunc{}, quota: newQuota(o.Quota, o.Now)}
}

// Run resumes every unfinished job, then picks up new and cancelled ones,
// until ctx is done. It returns after the running jobs stopped; requests
// in flight are abandoned and run again after the next start.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.o.PollInterval)
	defer t.Stop()
	defer m.jobs.Wait()
	for {
		m.scan(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-m.wake:
		}
	}
}

// notify makes Run look at the store now.
func (m *Manager) notify() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// scan starts a goroutine for each active job not running yet and stops
// the dispatch of running jobs that are being cancelled.
func (m *Manager) scan(ctx context.Context) {
	active, err := m.o.Store.ActiveBatches(ctx)
	if err != nil {
		if ctx.Err() == nil {
			m.o.Logger.Warn("listing active batches", "error", err.Error())
		}
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, b := range active {
		if cancel, ok := m.running[b.ID]; ok {
			if b.Status == store.BatchCancelling {
				cancel()
			}
			continue
		}
		jctx, cancel := context.WithCancel(ctx)
		m.running[b.ID] = cancel
		id := b.ID
		m.jobs.Go(func() {
			defer func() {
				if v := recover(); v != nil {
					m.o.Logger.Error("panic running batch", "batch", id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				}
				m.mu.Lock()
				delete(m.running, id)
				m.mu.Unlock()
				cancel()
			}()
			if err := m.process(ctx, jctx, id); err != nil && ctx.Err() == nil {
				m.o.Logger.Warn("batch stopped; it is retried at the next scan", "batch", id, "error", err.Error())
			}
		})
	}
}

// process moves one job through its life cycle from wherever it stands.
// ctx lives as long as the process; jctx is also cancelled when the batch
// is being cancelled.
func (m *Manager) process(ctx, jctx context.Context, id string) error {
	b, err := m.o.Store.Batch(ctx, id)
	if err != nil {
		return err
	}
	if b.Status == store.BatchValidating {
		if b, err = m.validate(ctx, b); err != nil {
			return err
		}
	}
	if b.Status == store.BatchInProgress {
		expired, err := m.dispatch(ctx, jctx, b)
		if err != nil || ctx.Err() != nil {
			return err
		}
		if b, err = m.afterDispatch(ctx, b, expired); err != nil {
			return err
		}
	}
	switch b.Status {
	case store.BatchFinalizing:
		return m.finalize(ctx, b, store.BatchCompleted)
	case store.BatchCancelling:
		return m.finalize(ctx, b, store.BatchCancelled)
	}
	return nil
}

// afterDispatch moves an in-progress job whose lines are all answered (or
// that stopped) on: to finalizing, or to cancelling or expired finalization.
func (m *Manager) afterDispatch(ctx context.Context, b store.Batch, expired bool) (store.Batch, error) {
	cur, err := m.o.Store.Batch(ctx, b.ID)
	if err != nil {
		return b, err
	}
	if cur.Status != store.BatchInProgress {
		return cur, nil // cancelled meanwhile
	}
	if expired {
		return cur, m.finalize(ctx, cur, store.BatchExpired)
	}
	next := cur
	next.Status, next.FinalizingAt = store.BatchFinalizing, m.o.Now()
	if err := m.o.Store.UpdateBatch(ctx, next, store.BatchInProgress); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return m.o.Store.Batch(ctx, b.ID)
		}
		return b, err
	}
	return next, nil
}

// newID returns prefix followed by 24 random hex digits.
func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand documents it)
	return prefix + hex.EncodeToString(b[:])
}
