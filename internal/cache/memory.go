package cache

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/maypok86/otter/v2"
)

// Memory tier defaults.
const (
	DefaultMemoryTTL      = 5 * time.Minute
	DefaultMemoryMaxBytes = 64 << 20
)

// MemoryOptions configure the in-process tier.
type MemoryOptions struct {
	// MaxBytes bounds the approximate size of all entries (Entry.Size);
	// default 64 MiB. Eviction is W-TinyLFU, so a burst of one-off answers
	// does not flush the popular ones.
	MaxBytes uint64
	// TTL is the default lifetime; default 5 minutes.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Memory is the in-process tier, bounded in bytes.
type Memory struct {
	c        *otter.Cache[Key, memItem]
	ttl      time.Duration
	now      func() time.Time
	counters Counters
}

var _ Store = (*Memory)(nil)

type memItem struct {
	e   Entry // ExpiresAt set
	ttl time.Duration
}

// NewMemory returns a memory tier. Call Close to stop its maintenance
// goroutine.
func NewMemory(o MemoryOptions) (*Memory, error) {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMemoryMaxBytes
	}
	if o.TTL <= 0 {
		o.TTL = DefaultMemoryTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c, err := otter.New(&otter.Options[Key, memItem]{
		MaximumWeight: o.MaxBytes,
		Weigher: func(_ Key, v memItem) uint32 {
			return uint32(min(v.e.Size(), math.MaxUint32))
		},
		// Lifetime is enforced by Get with the injected clock; otter's own
		// expiry only reclaims the memory of entries nobody reads again.
		ExpiryCalculator: otter.ExpiryWritingFunc(func(en otter.Entry[Key, memItem]) time.Duration {
			return en.Value.ttl
		}),
	})
	if err != nil {
		return nil, fmt.Errorf("creating memory cache: %w", err)
	}
	return &Memory{c: c, ttl: o.TTL, now: o.Now}, nil
}

// Name returns "memory".
func (m *Memory) Name() string { return "memory" }

// Get returns the entry for key or ErrMiss.
func (m *Memory) Get(_ context.Context, key Key) (Entry, error) {
	it, ok := m.c.GetIfPresent(key)
	if !ok {
		return Entry{}, m.counters.Observe(ErrMiss)
	}
	if !m.now().Before(it.e.ExpiresAt) {
		m.c.Invalidate(key)
		return Entry{}, m.counters.Observe(ErrMiss)
	}
	m.counters.Observe(nil)
	return it.e, nil
}

// Set stores e for ttl (the tier default when ttl <= 0).
func (m *Memory) Set(_ context.Context, key Key, e Entry, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = m.ttl
	}
	e.ExpiresAt = m.now().Add(ttl)
	m.c.Set(key, memItem{e: e, ttl: ttl})
	return m.counters.ObserveWrite(nil)
}

// Delete removes key.
func (m *Memory) Delete(_ context.Context, key Key) error {
	m.c.Invalidate(key)
	return nil
}

// Purge removes the entries f matches.
func (m *Memory) Purge(_ context.Context, f Filter) (int, error) {
	n := 0
	for k, v := range m.c.All() {
		if f.Match(v.e.Model) {
			if _, ok := m.c.Invalidate(k); ok {
				n++
			}
		}
	}
	return n, nil
}

// Stats reports counters, entries and weighted bytes.
func (m *Memory) Stats() TierStats {
	s := m.counters.Stats(m.Name())
	s.Entries = int64(m.c.EstimatedSize())
	s.Bytes = int64(m.c.WeightedSize())
	return s
}

// Close stops the cache's maintenance goroutine.
func (m *Memory) Close() error {
	m.c.StopAllGoroutines()
	return nil
}
