package cache

import (
	"context"
	"sync/atomic"
	"time"
)

// Store is one cache tier.
//
// Implementations are safe for concurrent use. Get returns ErrMiss (possibly
// wrapped) for an absent or expired key, never a stale entry. Entries passed
// to Set and returned by Get are immutable. A ttl of zero or less means the
// tier's own default. Errors other than ErrMiss mean the tier is unhealthy;
// callers count them and carry on without it.
type Store interface {
	Get(ctx context.Context, key Key) (Entry, error)
	Set(ctx context.Context, key Key, e Entry, ttl time.Duration) error
	// Delete removes one key; deleting an absent key is not an error.
	Delete(ctx context.Context, key Key) error
	// Purge removes every entry that f matches and returns how many it
	// removed (a best-effort count where the backend cannot tell).
	Purge(ctx context.Context, f Filter) (int, error)
	// Stats is cheap and does no I/O.
	Stats() TierStats
	// Name is the tier name used in results, logs and metrics:
	// memory, redis, disk or s3.
	Name() string
}

// ReadTimeouter is implemented by stores whose reads need another bound
// than DefaultTierTimeout: a Tier with no Timeout uses ReadTimeout. An
// object store needs an HTTP round trip, and a TLS handshake on a new
// connection, where Redis needs a few milliseconds.
type ReadTimeouter interface {
	ReadTimeout() time.Duration
}

// Warmer is implemented by stores that can open their connections before
// the first read, so the first read does not pay for them. Tiered.Run
// warms such tiers once at start; a failure is only logged.
type Warmer interface {
	Warm(ctx context.Context) error
}

// Filter selects entries for Purge. The zero Filter matches everything.
type Filter struct {
	// Model, when set, matches entries whose Entry.Model equals it.
	Model string
}

// Match reports whether f selects an entry of the given model.
func (f Filter) Match(model string) bool { return f.Model == "" || f.Model == model }

// TierStats are the counters of one tier. Entries and Bytes are -1 when the
// tier cannot know them without I/O (Redis, S3).
type TierStats struct {
	Tier    string
	Entries int64
	Bytes   int64
	Hits    uint64
	Misses  uint64
	Sets    uint64
	Errors  uint64
	// Dropped counts writes and promotions that Tiered skipped because its
	// queue was full; zero in a tier's own Stats.
	Dropped uint64
	// Timeouts counts reads that Tiered abandoned after the tier's
	// Timeout; zero in a tier's own Stats.
	Timeouts uint64
	// LateHits counts reads that answered with an entry after Tiered
	// stopped waiting for them; the entry was promoted to the tiers above.
	LateHits uint64
}

// Counters are the hit, miss, set and error counters a Store keeps; backends
// embed one and report it from Stats.
type Counters struct {
	hits, misses, sets, errors atomic.Uint64
}

// Observe counts the outcome of a Get: nil is a hit, ErrMiss a miss,
// anything else an error. It returns err unchanged.
func (c *Counters) Observe(err error) error {
	switch {
	case err == nil:
		c.hits.Add(1)
	case isMiss(err):
		c.misses.Add(1)
	default:
		c.errors.Add(1)
	}
	return err
}

// ObserveWrite counts the outcome of a Set or Delete and returns err.
func (c *Counters) ObserveWrite(err error) error {
	if err != nil {
		c.errors.Add(1)
	} else {
		c.sets.Add(1)
	}
	return err
}

// Error counts one error and returns it.
func (c *Counters) Error(err error) error {
	c.errors.Add(1)
	return err
}

// Stats returns the counters as TierStats for tier, with Entries and Bytes
// set to -1 for the caller to fill in.
func (c *Counters) Stats(tier string) TierStats {
	return TierStats{
		Tier: tier, Entries: -1, Bytes: -1,
		Hits: c.hits.Load(), Misses: c.misses.Load(), Sets: c.sets.Load(), Errors: c.errors.Load(),
	}
}
