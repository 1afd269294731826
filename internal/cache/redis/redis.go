// Package redis is the Redis tier of the response cache, shared by all
// replicas of dsgate.
//
// Layout, under a configurable prefix (default "dsgate:cache:"):
//
//	<prefix>e:<hex key>   the entry envelope, SET with EX = TTL
//	<prefix>m:<model>     a set of hex keys written for that model, so a
//	                      purge by model needs no SCAN; members outliving
//	                      their entry are harmless (DEL of a missing key)
//
// Purge of everything SCANs the prefix. The TTL is also stored in the
// envelope and checked on read, so the injected clock decides in tests.
package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/cache"
)

// Defaults.
const (
	DefaultPrefix = "dsgate:cache:"
	DefaultTTL    = time.Hour
	purgeBatch    = 500
)

// Options configure the Redis tier.
type Options struct {
	// Client is required; the caller owns it and closes it. Build it with
	// ContextTimeoutEnabled: true and short DialTimeout, ReadTimeout and
	// WriteTimeout (tens of ms): the tier is a cache and must fail fast.
	// (Tiered abandons a read at its per-tier timeout either way.)
	Client goredis.UniversalClient
	// Prefix of every key; default "dsgate:cache:".
	Prefix string
	// TTL is the default lifetime; default 1 hour.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// ClientOptions are the options of a client for the cache tier: a client
// of its own, apart from the rate limiter's, with short timeouts, since a
// cache must fail fast. A dial costs at most 200 ms and a command 100 ms,
// and a cancelled ctx ends a command at once; while Redis is down every
// command fails within those bounds, and the client dials again by itself
// once Redis is back.
func ClientOptions(addr, password string, db int) *goredis.Options {
	return &goredis.Options{
		Addr: addr, Password: password, DB: db,
		ContextTimeoutEnabled: true, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond,
	}
}

// Store is the Redis tier.
type Store struct {
	rdb      goredis.UniversalClient
	prefix   string
	ttl      time.Duration
	now      func() time.Time
	counters cache.Counters
}

var _ cache.Store = (*Store)(nil)

// New returns a Redis tier over o.Client. It does no I/O.
func New(o Options) (*Store, error) {
	if o.Client == nil {
		return nil, errors.New("redis cache: nil client")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{rdb: o.Client, prefix: o.Prefix, ttl: o.TTL, now: o.Now}, nil
}

// Name returns "redis".
func (s *Store) Name() string { return "redis" }

func (s *Store) entryKey(k cache.Key) string { return s.prefix + "e:" + k.String() }
func (s *Store) modelKey(m string) string    { return s.prefix + "m:" + m }

// Get returns the entry or cache.ErrMiss.
func (s *Store) Get(ctx context.Context, key cache.Key) (cache.Entry, error) {
	b, err := s.rdb.Get(ctx, s.entryKey(key)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return cache.Entry{}, s.counters.Observe(cache.ErrMiss)
	}
	if err != nil {
		return cache.Entry{}, s.counters.Observe(fmt.Errorf("redis get: %w", err))
	}
	e, err := cache.UnmarshalEntry(b)
	if err != nil {
		return cache.Entry{}, s.counters.Observe(fmt.Errorf("redis get: %w", err))
	}
	if !e.ExpiresAt.IsZero() && !s.now().Before(e.ExpiresAt) {
		return cache.Entry{}, s.counters.Observe(cache.ErrMiss)
	}
	s.counters.Observe(nil)
	return e, nil
}

// Set writes the entry with SET EX and records it in its model's set.
func (s *Store) Set(ctx context.Context, key cache.Key, e cache.Entry, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = s.ttl
	}
	val := cache.MarshalEntry(e, s.now().Add(ttl))
	mk := s.modelKey(e.Model)
	_, err := s.rdb.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, s.entryKey(key), val, ttl)
		p.SAdd(ctx, mk, key.String())
		// The set lives as long as the longest entry in it: entries get at
		// most the tier TTL (promotions get less).
		p.Expire(ctx, mk, max(ttl, s.ttl))
		return nil
	})
	if err != nil {
		err = fmt.Errorf("redis set: %w", err)
	}
	return s.counters.ObserveWrite(err)
}

// Delete removes one entry.
func (s *Store) Delete(ctx context.Context, key cache.Key) error {
	if err := s.rdb.Del(ctx, s.entryKey(key)).Err(); err != nil {
		return s.counters.Error(fmt.Errorf("redis del: %w", err))
	}
	return nil
}

// Purge removes a model's entries (SPOP from its set, so entries added
// meanwhile are not lost from the index) or, with the zero Filter, every
// key under the prefix (SCAN + UNLINK).
func (s *Store) Purge(ctx context.Context, f cache.Filter) (int, error) {
	if f.Model != "" {
		return s.purgeModel(ctx, f.Model)
	}
	return s.purgeAll(ctx)
}

func (s *Store) purgeModel(ctx context.Context, model string) (int, error) {
	removed := 0
	mk := s.modelKey(model)
	for {
		hexKeys, err := s.rdb.SPopN(ctx, mk, purgeBatch).Result()
		if err != nil {
			return removed, s.counters.Error(fmt.Errorf("redis purge %q: %w", model, err))
		}
		if len(hexKeys) == 0 {
			return removed, nil
		}
		keys := make([]string, len(hexKeys))
		for i, h := range hexKeys {
			keys[i] = s.prefix + "e:" + h
		}
		n, err := s.rdb.Unlink(ctx, keys...).Result()
		removed += int(n)
		if err != nil {
			return removed, s.counters.Error(fmt.Errorf("redis purge %q: %w", model, err))
		}
	}
}

func (s *Store) purgeAll(ctx context.Context) (int, error) {
	removed := 0
	entryPrefix := s.prefix + "e:"
	iter := s.rdb.Scan(ctx, 0, globEscape(s.prefix)+"*", purgeBatch).Iterator()
	var batch []string
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := s.rdb.Unlink(ctx, batch...).Err(); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	for iter.Next(ctx) {
		k := iter.Val()
		if strings.HasPrefix(k, entryPrefix) {
			removed++
		}
		if batch = append(batch, k); len(batch) >= purgeBatch {
			if err := flush(); err != nil {
				return removed, s.counters.Error(fmt.Errorf("redis purge: %w", err))
			}
		}
	}
	if err := iter.Err(); err != nil {
		return removed, s.counters.Error(fmt.Errorf("redis scan: %w", err))
	}
	if err := flush(); err != nil {
		return removed, s.counters.Error(fmt.Errorf("redis purge: %w", err))
	}
	return removed, nil
}

// Stats reports counters; Entries and Bytes are -1 (unknown without I/O).
func (s *Store) Stats() cache.TierStats { return s.counters.Stats(s.Name()) }

// globEscape escapes SCAN MATCH metacharacters in a literal prefix.
func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}
