// Package disk is the local-disk tier of the response cache, a Pebble
// database that survives restarts.
//
// Keys are "e" + the 32-byte cache key; values are cache envelopes whose
// expiry is checked on every read (an expired entry is deleted then). Run
// also sweeps expired entries periodically so unread ones do not pile up.
// Purge iterates, as the tier holds at most a few GB on one machine.
package disk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/dsgate/dsgate/internal/cache"
)

// Defaults.
const (
	DefaultTTL           = 24 * time.Hour
	DefaultSweepInterval = 10 * time.Minute
	deleteBatch          = 1000
)

var entryPrefix = []byte("e")

// Options configure the disk tier.
type Options struct {
	// Dir is the Pebble directory, created if missing. Required.
	Dir string
	// TTL is the default lifetime; default 24 hours.
	TTL time.Duration
	// SweepInterval is how often Run deletes expired entries; default 10 min.
	SweepInterval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives Pebble's own log lines and sweep errors; default
	// discards.
	Logger *slog.Logger
}

// ErrDisabled is every operation's error once Pebble has reported
// unrecoverable corruption: the tier is switched off (each lookup is a
// miss) instead of taking the process down. Restart with a clean
// directory to use it again.
var ErrDisabled = errors.New("disk cache tier disabled after Pebble reported corruption")

// Store is the disk tier. Close it before the process exits.
type Store struct {
	db       *pebble.DB
	disabled *atomic.Bool // set by Pebble's Fatalf, shared with the logger
	ttl      time.Duration
	sweep    time.Duration
	now      func() time.Time
	logger   *slog.Logger
	counters cache.Counters
}

var _ cache.Store = (*Store)(nil)

// Open opens or creates the database in o.Dir.
func Open(o Options) (*Store, error) {
	if o.Dir == "" {
		return nil, errors.New("disk cache: empty dir")
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = DefaultSweepInterval
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	disabled := new(atomic.Bool)
	db, err := pebble.Open(o.Dir, &pebble.Options{Logger: pebbleLogger{o.Logger, disabled}})
	if err != nil {
		return nil, fmt.Errorf("opening disk cache %s: %w", o.Dir, err)
	}
	return &Store{db: db, disabled: disabled, ttl: o.TTL, sweep: o.SweepInterval, now: o.Now, logger: o.Logger}, nil
}

// guard turns Pebble's fatal report during an operation into ErrDisabled
// in *err (the tier is already disabled by then); any other panic goes on.
func (s *Store) guard(err *error) {
	if v := recover(); v != nil {
		if _, ok := v.(pebbleFatal); !ok {
			panic(v)
		}
		*err = s.counters.Error(ErrDisabled)
	}
}

// off reports whether the tier is disabled, counting the refused call.
func (s *Store) off() error {
	if s.disabled.Load() {
		return s.counters.Error(ErrDisabled)
	}
	return nil
}

// Close flushes and closes the database; a disabled tier is left as it
// is.
func (s *Store) Close() (err error) {
	if s.disabled.Load() {
		return ErrDisabled
	}
	defer s.guard(&err)
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing disk cache: %w", err)
	}
	return nil
}

// Name returns "disk".
func (s *Store) Name() string { return "disk" }

func dbKey(k cache.Key) []byte { return append(append(make([]byte, 0, 33), entryPrefix...), k[:]...) }

// Get returns the entry or cache.ErrMiss; an expired entry is deleted.
func (s *Store) Get(_ context.Context, key cache.Key) (_ cache.Entry, err error) {
	if err := s.off(); err != nil {
		return cache.Entry{}, err
	}
	defer s.guard(&err)
	k := dbKey(key)
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return cache.Entry{}, s.counters.Observe(cache.ErrMiss)
	}
	if err != nil {
		return cache.Entry{}, s.counters.Observe(fmt.Errorf("disk get: %w", err))
	}
	b := bytes.Clone(v) // v is valid only until closer.Close
	closer.Close()
	e, err := cache.UnmarshalEntry(b)
	if err != nil {
		_ = s.db.Delete(k, pebble.NoSync)
		return cache.Entry{}, s.counters.Observe(fmt.Errorf("disk get: %w", err))
	}
	if !e.ExpiresAt.IsZero() && !s.now().Before(e.ExpiresAt) {
		_ = s.db.Delete(k, pebble.NoSync)
		return cache.Entry{}, s.counters.Observe(cache.ErrMiss)
	}
	s.counters.Observe(nil)
	return e, nil
}

// Set writes the entry. Writes are not fsynced: a crash may lose the last
// entries, which only costs hits.
func (s *Store) Set(_ context.Context, key cache.Key, e cache.Entry, ttl time.Duration) (err error) {
	if err := s.off(); err != nil {
		return err
	}
	defer s.guard(&err)
	if ttl <= 0 {
		ttl = s.ttl
	}
	err = s.db.Set(dbKey(key), cache.MarshalEntry(e, s.now().Add(ttl)), pebble.NoSync)
	if err != nil {
		err = fmt.Errorf("disk set: %w", err)
	}
	return s.counters.ObserveWrite(err)
}

// Delete removes one entry.
func (s *Store) Delete(_ context.Context, key cache.Key) (err error) {
	if err := s.off(); err != nil {
		return err
	}
	defer s.guard(&err)
	if err := s.db.Delete(dbKey(key), pebble.NoSync); err != nil {
		return s.counters.Error(fmt.Errorf("disk delete: %w", err))
	}
	return nil
}

// Purge removes the entries f matches.
func (s *Store) Purge(ctx context.Context, f cache.Filter) (int, error) {
	return s.deleteWhere(ctx, func(v []byte) bool {
		if f.Model == "" {
			return true
		}
		e, err := cache.UnmarshalEntry(v)
		return err != nil || f.Match(e.Model) // corrupt entries go too
	})
}

// Sweep deletes expired and corrupt entries and returns how many.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	return s.deleteWhere(ctx, func(v []byte) bool {
		exp, ok := cache.EnvelopeExpiresAt(v)
		return !ok || (!exp.IsZero() && !now.Before(exp))
	})
}

// Run sweeps every SweepInterval until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.sweep)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if n, err := s.Sweep(ctx); err != nil {
				s.logger.Warn("disk cache sweep failed", "err", err)
			} else if n > 0 {
				s.logger.Debug("disk cache sweep", "deleted", n)
			}
		}
	}
}

func (s *Store) deleteWhere(ctx context.Context, match func(v []byte) bool) (n int, err error) {
	if err := s.off(); err != nil {
		return 0, err
	}
	defer s.guard(&err)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: entryPrefix, UpperBound: []byte("f")})
	if err != nil {
		return 0, s.counters.Error(fmt.Errorf("disk iterate: %w", err))
	}
	defer it.Close()
	b := s.db.NewBatch()
	defer func() { b.Close() }()
	for it.First(); it.Valid(); it.Next() {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return n, s.counters.Error(fmt.Errorf("disk iterate: %w", err))
		}
		if !match(v) {
			continue
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			return n, s.counters.Error(fmt.Errorf("disk delete: %w", err))
		}
		n++
		if b.Count() >= deleteBatch {
			if err := b.Commit(pebble.NoSync); err != nil {
				return n, s.counters.Error(fmt.Errorf("disk delete: %w", err))
			}
			b.Close()
			b = s.db.NewBatch()
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return n, s.counters.Error(fmt.Errorf("disk delete: %w", err))
	}
	return n, nil
}

// Stats reports counters and the database's disk usage; Entries is -1.
func (s *Store) Stats() cache.TierStats {
	st := s.counters.Stats(s.Name())
	if s.disabled.Load() {
		return st
	}
	st.Bytes = int64(s.db.Metrics().DiskSpaceUsage())
	return st
}

// pebbleLogger sends Pebble's log lines to slog.
type pebbleLogger struct {
	l        *slog.Logger
	disabled *atomic.Bool
}

// pebbleFatal is the panic value of Fatalf, which the Store's operations
// recover (see guard).
type pebbleFatal struct{ msg string }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "cache", "disk")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Warn(fmt.Sprintf(format, args...), "cache", "disk")
}

// Fatalf must not return; Pebble calls it on unrecoverable corruption. It
// disables the tier and panics with a pebbleFatal that the operation in
// progress recovers, so a corrupt cache costs hits, not the process.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !p.disabled.Swap(true) {
		p.l.Error("disk cache tier disabled: "+msg, "cache", "disk")
	}
	panic(pebbleFatal{msg})
}
