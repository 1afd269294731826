package websession

import (
	"context"
	"sync"
	"time"
)

// Store keeps sessions by key (the SHA-256 of the session id, never the id
// itself). Implementations must be safe for concurrent use; Get reports
// false, not an error, for an unknown key. A shared implementation (Redis,
// the SQL store) lets several gateway processes share sign-ins; it should
// drop a session once its IdleDeadline or AbsoluteDeadline has passed.
type Store interface {
	Get(ctx context.Context, key string) (Session, bool, error)
	Put(ctx context.Context, key string, s Session) error
	Delete(ctx context.Context, key string) error
}

// MemoryStore is a Store in this process's memory: sign-ins do not survive
// a restart and are not shared between processes.
type MemoryStore struct {
	now func() time.Time

	mu       sync.Mutex
	sessions map[string]Session
	puts     int
}

var _ Store = (*MemoryStore)(nil)

// sweepEvery is how many Puts pass between sweeps of ended sessions.
const sweepEvery = 64

// NewMemoryStore returns an empty MemoryStore; now is its clock for
// sweeping ended sessions (nil means time.Now).
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, sessions: map[string]Session{}}
}

// Get returns the session stored under key.
func (m *MemoryStore) Get(_ context.Context, key string) (Session, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[key]
	return s, ok, nil
}

// Put stores s under key, and now and then drops ended sessions.
func (m *MemoryStore) Put(_ context.Context, key string, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[key] = s
	m.puts++
	if m.puts%sweepEvery == 0 {
		now := m.now()
		for k, v := range m.sessions {
			if v.Expired(now) {
				delete(m.sessions, k)
			}
		}
	}
	return nil
}

// Delete removes the session stored under key.
func (m *MemoryStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, key)
	return nil
}

// Len returns how many sessions are stored (ended ones not yet swept
// included).
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}
