package federation

import (
	"crypto/sha256"
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
)

// maxVerified bounds the cache; when full it starts over (only tokens that
// verified get in, so filling it takes many valid tokens within one TTL).
const maxVerified = 10000

// verified remembers recently verified tokens by their SHA-256: a service
// reuses its token for minutes, and the signature check is most of the
// cost of a request's authentication (bench/RESULTS.md).
type verified struct {
	ttl     time.Duration
	mu      sync.RWMutex
	entries map[string]verifiedEntry
}

type verifiedEntry struct {
	p     *auth.Principal
	until time.Time
}

func (v *verified) get(raw string, now time.Time) (*auth.Principal, bool) {
	if v == nil {
		return nil, false
	}
	k := sha256.Sum256([]byte(raw))
	v.mu.RLock()
	e, ok := v.entries[string(k[:])]
	v.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.p, true
}

func (v *verified) put(raw string, p *auth.Principal, now time.Time) {
	if v == nil {
		return
	}
	until := now.Add(v.ttl)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(until) {
		until = p.ExpiresAt
	}
	k := sha256.Sum256([]byte(raw))
	v.mu.Lock()
	if len(v.entries) >= maxVerified {
		v.entries = make(map[string]verifiedEntry, len(v.entries))
	}
	v.entries[string(k[:])] = verifiedEntry{p: p, until: until}
	v.mu.Unlock()
}
