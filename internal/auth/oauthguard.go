package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/maypok86/otter/v2"
)

// The token, introspection and revocation endpoints authenticate clients
// with argon2id (19 MiB and tens of milliseconds per check) before anything
// else, and are reachable without a credential. Three bounds keep a flood
// of bogus requests cheap:
//
//   - verifyGate: at most N checks run at once and at most Q wait; a request
//     beyond that is refused at once (503) without hashing, and one client
//     address may hold at most P of the running and waiting places (429), so
//     one flooding address cannot fill the queue. Known and unknown client
//     ids have a gate each, so made-up ids from many addresses cannot keep
//     real clients out; in the known ids' gate one client id may hold at
//     most C places (503 beyond; C < N), so wrong secrets for one known id
//     from rotating addresses cannot keep other clients out either. Memory
//     is bounded by 2 × N × 19 MiB whatever the load.
//   - FailureLimiter: an address past its failed authentications for the
//     minute is refused (429) before its client is even looked up.
//   - verifiedSecrets: a secret that passed argon2id is remembered (as an
//     HMAC under a per-process key, with the stored hash it matched) for a
//     while, so a legitimate client asking for tokens again is answered
//     without hashing, even while the gate is full.
//
// Unknown client ids still run the full check against a dummy hash inside
// their gate, so the time taken does not tell whether a client id exists;
// only under a flood do the two gates answer differently, which would
// reveal whether a guessed id exists (client ids carry 80 random bits).

var (
	errVerifyBusy     = errors.New("too many client authentications in progress")
	errVerifyAddrBusy = errors.New("too many client authentications in progress from this address")
	errVerifyIDBusy   = errors.New("too many authentications of this client in progress")
)

// verifyGate bounds concurrent and queued secret checks, overall, per
// client address and (when maxPerID > 0) per client id.
type verifyGate struct {
	slots      chan struct{}
	maxPending int
	maxPerAddr int
	maxPerID   int // 0: no bound per client id
	wait       time.Duration

	mu      sync.Mutex
	pending int
	perAddr map[netip.Prefix]int
	perID   map[string]int // at most maxPending entries
}

func newVerifyGate(running, queued, perAddr, perID int, wait time.Duration) *verifyGate {
	return &verifyGate{slots: make(chan struct{}, running), maxPending: running + queued, maxPerAddr: perAddr,
		maxPerID: perID, wait: wait, perAddr: make(map[netip.Prefix]int), perID: make(map[string]int)}
}

// enter waits for a slot; the returned release must be called once the
// check is done. It fails at once when the queue is full, addr holds its
// share or client id holds its share, and after the wait bound (or ctx)
// while queued.
func (g *verifyGate) enter(ctx context.Context, addr, id string) (release func(), err error) {
	key, keyed := addrKey(addr)
	byID := g.maxPerID > 0
	g.mu.Lock()
	switch {
	case g.pending >= g.maxPending:
		err = errVerifyBusy
	case keyed && g.perAddr[key] >= g.maxPerAddr:
		err = errVerifyAddrBusy
	case byID && g.perID[id] >= g.maxPerID:
		err = errVerifyIDBusy
	default:
		g.pending++
		if keyed {
			g.perAddr[key]++
		}
		if byID {
			g.perID[id]++
		}
	}
	g.mu.Unlock()
	if err != nil {
		return nil, err
	}
	leave := func() {
		g.mu.Lock()
		g.pending--
		if keyed {
			if g.perAddr[key]--; g.perAddr[key] <= 0 {
				delete(g.perAddr, key)
			}
		}
		if byID {
			if g.perID[id]--; g.perID[id] <= 0 {
				delete(g.perID, id)
			}
		}
		g.mu.Unlock()
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.slots <- struct{}{}:
		return func() { <-g.slots; leave() }, nil
	case <-t.C:
		err = errVerifyBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	leave()
	return nil, err
}

// verifiedSecrets remembers client secrets that passed argon2id.
type verifiedSecrets struct {
	key   [32]byte
	ttl   time.Duration
	cache *otter.Cache[string, verifiedSecret]
}

type verifiedSecret struct {
	phc string // the stored hash it matched: a new secret invalidates it
	mac [sha256.Size]byte
}

func newVerifiedSecrets(max int, ttl time.Duration) (*verifiedSecrets, error) {
	v := &verifiedSecrets{ttl: ttl}
	if _, err := rand.Read(v.key[:]); err != nil {
		return nil, err
	}
	v.cache = otter.Must(&otter.Options[string, verifiedSecret]{
		MaximumSize:      max,
		ExpiryCalculator: otter.ExpiryWriting[string, verifiedSecret](ttl),
	})
	return v, nil
}

func (v *verifiedSecrets) mac(clientID, phc, secret string) [sha256.Size]byte {
	m := hmac.New(sha256.New, v.key[:])
	m.Write([]byte(clientID))
	m.Write([]byte{0})
	m.Write([]byte(phc))
	m.Write([]byte{0})
	m.Write([]byte(secret))
	var out [sha256.Size]byte
	m.Sum(out[:0])
	return out
}

// known reports whether secret passed a full check against phc recently.
func (v *verifiedSecrets) known(clientID, phc, secret string) bool {
	e, ok := v.cache.GetIfPresent(clientID)
	if !ok || e.phc != phc {
		return false
	}
	want := v.mac(clientID, phc, secret)
	return hmac.Equal(e.mac[:], want[:])
}

// matches reports whether secret passed a full check for clientID recently,
// whatever the client's stored hash is now (the caller re-reads it).
func (v *verifiedSecrets) matches(clientID, secret string) bool {
	e, ok := v.cache.GetIfPresent(clientID)
	if !ok {
		return false
	}
	want := v.mac(clientID, e.phc, secret)
	return hmac.Equal(e.mac[:], want[:])
}

func (v *verifiedSecrets) remember(clientID, phc, secret string) {
	v.cache.Set(clientID, verifiedSecret{phc: phc, mac: v.mac(clientID, phc, secret)})
}
