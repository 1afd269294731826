package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// MemoryBackend keeps limiter state in this process: correct for a single
// replica. Keys idle for longer than Period with no request in flight are
// swept as new keys arrive, so memory follows the number of active callers.
type MemoryBackend struct {
	seed   maphash.Seed
	shards [64]memShard
}

type memShard struct {
	mu      sync.Mutex
	entries map[string]*memEntry
	adds    int
}

type memEntry struct {
	rpmTAT, tpmTAT int64
	inflight       int64
	lastSeen       int64
}

var _ Backend = (*MemoryBackend)(nil)

// InProcess reports that the backend never waits (see InProcess).
func (m *MemoryBackend) InProcess() bool { return true }

// NewMemoryBackend returns an empty backend.
func NewMemoryBackend() *MemoryBackend {
	m := &MemoryBackend{seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].entries = make(map[string]*memEntry)
	}
	return m
}

func (m *MemoryBackend) shard(key string) *memShard {
	return &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
}

// Admit implements Backend.
func (m *MemoryBackend) Admit(_ context.Context, a Admission) (Decision, error) {
	now := a.Now.UnixNano()
	s := m.shard(a.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[a.Key]
	if e == nil {
		e = &memEntry{}
		s.entries[a.Key] = e
		if s.adds++; s.adds%1024 == 0 {
			s.sweep(now)
		}
	}
	e.lastSeen = now
	var d Decision
	rpmTAT, tpmTAT := e.rpmTAT, e.tpmTAT
	if a.Limits.RPM > 0 {
		var ok bool
		rpmTAT, ok, d.RetryAfter, d.Requests = GCRA(e.rpmTAT, now, a.Limits.RPM, 1)
		if !ok {
			d.Dimension = Requests
		}
	}
	if a.Limits.TPM > 0 {
		t, ok, retry, st := GCRA(e.tpmTAT, now, a.Limits.TPM, min(a.Tokens, a.Limits.TPM))
		tpmTAT, d.Tokens = t, st
		if !ok && d.Dimension == "" {
			d.Dimension, d.RetryAfter = Tokens, retry
		}
	}
	if d.Dimension == "" && a.Limits.MaxConcurrent > 0 && e.inflight >= a.Limits.MaxConcurrent {
		d.Dimension, d.RetryAfter = Concurrency, time.Second
	}
	if d.Dimension != "" {
		d.Inflight = e.inflight
		return d, nil
	}
	e.rpmTAT, e.tpmTAT = rpmTAT, tpmTAT
	if a.Limits.MaxConcurrent > 0 {
		e.inflight++
	}
	d.Allowed, d.Inflight = true, e.inflight
	return d, nil
}

// Settle implements Backend.
func (m *MemoryBackend) Settle(_ context.Context, st Settlement) error {
	now := st.Now.UnixNano()
	s := m.shard(st.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[st.Key]
	if e == nil {
		return nil // swept: nothing reserved any more
	}
	if st.Limits.TPM > 0 && st.TokenDelta != 0 {
		e.tpmTAT = Adjust(e.tpmTAT, now, st.Limits.TPM, st.TokenDelta)
	}
	if st.Release && e.inflight > 0 {
		e.inflight--
	}
	e.lastSeen = now
	return nil
}

// sweep drops idle entries; the caller holds s.mu.
func (s *memShard) sweep(now int64) {
	for k, e := range s.entries {
		if e.inflight == 0 && now-e.lastSeen > int64(Period) && e.rpmTAT <= now && e.tpmTAT <= now {
			delete(s.entries, k)
		}
	}
}
