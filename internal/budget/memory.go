package budget

import (
	"context"
	"sync"
	"time"
)

// Memory is a Backend in this process's memory.
type Memory struct {
	mu    sync.Mutex
	m     map[string]*memCounter
	now   func() time.Time
	sweep time.Time
}

type memCounter struct {
	v      int64
	expire time.Time
}

// NewMemory returns an empty Memory backend.
func NewMemory() *Memory { return &Memory{m: map[string]*memCounter{}, now: time.Now} }

// Reserve implements Backend.
func (m *Memory) Reserve(_ context.Context, cs []Counter, amount int64) ([]int64, int, error) {
	spent := make([]int64, len(cs))
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maybeSweep()
	for i, c := range cs {
		if e := m.m[c.Key]; e != nil {
			spent[i] = e.v
		}
		if spent[i] >= c.Limit {
			return spent, i, nil
		}
	}
	for i, c := range cs {
		e := m.m[c.Key]
		if e == nil {
			e = &memCounter{}
			m.m[c.Key] = e
		}
		e.v += amount
		e.expire = c.Expire
		spent[i] = e.v
	}
	return spent, -1, nil
}

// Add implements Backend.
func (m *Memory) Add(_ context.Context, cs []Counter, delta int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range cs {
		e := m.m[c.Key]
		if e == nil {
			e = &memCounter{expire: c.Expire}
			m.m[c.Key] = e
		}
		e.v += delta
	}
	return nil
}

// Spent implements Backend.
func (m *Memory) Spent(_ context.Context, key string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.m[key]; e != nil {
		return e.v, nil
	}
	return 0, nil
}

// maybeSweep forgets expired counters, at most once a minute.
func (m *Memory) maybeSweep() {
	now := m.now()
	if now.Before(m.sweep) {
		return
	}
	m.sweep = now.Add(time.Minute)
	for k, e := range m.m {
		if now.After(e.expire) {
			delete(m.m, k)
		}
	}
}
