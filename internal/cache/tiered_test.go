package cache_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/cache/cachetest"
	"github.com/dsgate/dsgate/internal/cache/disk"
	cacheredis "github.com/dsgate/dsgate/internal/cache/redis"
	"github.com/dsgate/dsgate/internal/testkit"
)

// renamed lets a Memory store stand in for a remote tier.
type renamed struct {
	cache.Store
	name string
}

func (r renamed) Name() string { return r.name }

func (r renamed) Stats() cache.TierStats {
	s := r.Store.Stats()
	s.Tier = r.name
	return s
}

func memStore(t *testing.T, clock *cachetest.Clock) *cache.Memory {
	t.Helper()
	m, err := cache.NewMemory(cache.MemoryOptions{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func diskStore(t *testing.T, clock *cachetest.Clock) *disk.Store {
	t.Helper()
	d, err := disk.Open(disk.Options{Dir: t.TempDir(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// runTiered builds a Tiered cache and runs its queue for the test.
func runTiered(t *testing.T, o cache.TieredOptions) *cache.Tiered {
	t.Helper()
	tc, err := cache.NewTiered(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return tc
}

func has(s cache.Store, k cache.Key) bool {
	_, err := s.Get(context.Background(), k)
	return err == nil
}

func TestTieredWriteAndPromote(t *testing.T) {
	ctx := context.Background()
	clock := cachetest.NewClock(testNow)
	mem := memStore(t, clock)
	remote := renamed{memStore(t, clock), "redis"}
	dsk := diskStore(t, clock)
	tc := runTiered(t, cache.TieredOptions{Now: clock.Now, Tiers: []cache.Tier{
		{Store: mem, Inline: true, TTL: time.Minute},
		{Store: remote, TTL: time.Hour},
		{Store: dsk, TTL: 24 * time.Hour},
	}})

	// Set: memory inline, remote tiers through the queue.
	k1, e1 := cachetest.SampleKey(t, 1), cachetest.SampleEntry("m", 1)
	tc.Set(ctx, k1, e1)
	if !has(mem, k1) {
		t.Fatal("memory tier not written inline")
	}
	testkit.Eventually(t, 5*time.Second, "remote writes", func() bool { return has(remote, k1) && has(dsk, k1) })
	if hit, err := tc.Get(ctx, k1); err != nil || hit.Tier != "memory" {
		t.Fatalf("Get = %v %v, want memory hit", hit.Tier, err)
	}

	// A hit in the lowest tier is promoted to both upper tiers.
	k2, e2 := cachetest.SampleKey(t, 2), cachetest.SampleEntry("m", 2)
	if err := dsk.Set(ctx, k2, e2, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	hit, err := tc.Get(ctx, k2)
	if err != nil || hit.Tier != "disk" || string(hit.Entry.Body) != string(e2.Body) {
		t.Fatalf("Get = %q %v, want disk hit", hit.Tier, err)
	}
	if !has(mem, k2) {
		t.Fatal("not promoted to memory inline")
	}
	testkit.Eventually(t, 5*time.Second, "promotion to remote", func() bool { return has(remote, k2) })
	// Promotions keep the remaining lifetime, not the upper tier's TTL.
	got, _ := remote.Get(ctx, k2)
	if want := clock.Now().Add(30 * time.Second); !got.ExpiresAt.Equal(want) {
		t.Errorf("promoted ExpiresAt = %v, want %v", got.ExpiresAt, want)
	}
	if hit, _ := tc.Get(ctx, k2); hit.Tier != "memory" {
		t.Errorf("second Get from %q, want memory", hit.Tier)
	}

	if _, err := tc.Get(ctx, cachetest.SampleKey(t, 3)); !errors.Is(err, cache.ErrMiss) {
		t.Errorf("Get of absent key = %v, want ErrMiss", err)
	}

	counts, err := tc.Purge(ctx, cache.Filter{Model: "m"})
	if err != nil || counts["memory"] != 2 || counts["redis"] != 2 || counts["disk"] != 2 {
		t.Errorf("Purge = %v, %v; want 2 per tier", counts, err)
	}
	if err := tc.Delete(ctx, k1); err != nil {
		t.Error(err)
	}
}

func TestTieredQueueFullDrops(t *testing.T) {
	clock := cachetest.NewClock(testNow)
	remote := renamed{memStore(t, clock), "redis"}
	// No Run: the queue never drains.
	tc, err := cache.NewTiered(cache.TieredOptions{QueueSize: 1, Tiers: []cache.Tier{{Store: remote}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		tc.Set(context.Background(), cachetest.SampleKey(t, i), cachetest.SampleEntry("m", i))
	}
	if st := tc.Stats()[0]; st.Dropped != 2 || tc.QueueLen() != 1 {
		t.Errorf("Dropped = %d, queue = %d; want 2 and 1", st.Dropped, tc.QueueLen())
	}
}

// TestTieredRedisDown: Redis refuses connections; requests are answered
// from memory or miss quickly, and the errors are counted.
func TestTieredRedisDown(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	rdb := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 20 * time.Millisecond})
	t.Cleanup(func() { rdb.Close() })
	rs, err := cacheredis.New(cacheredis.Options{Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	clock := cachetest.NewClock(testNow)
	tc := runTiered(t, cache.TieredOptions{Now: clock.Now, FailureThreshold: 1000, Tiers: []cache.Tier{
		{Store: memStore(t, clock), Inline: true},
		{Store: rs, Timeout: 50 * time.Millisecond},
	}})
	for i := range 5 {
		if _, err := tc.Get(ctx, cachetest.SampleKey(t, i)); !errors.Is(err, cache.ErrMiss) {
			t.Fatalf("Get = %v, want ErrMiss", err)
		}
	}
	k := cachetest.SampleKey(t, 9)
	tc.Set(ctx, k, cachetest.SampleEntry("m", 9))
	if hit, err := tc.Get(ctx, k); err != nil || hit.Tier != "memory" {
		t.Fatalf("Get = %q %v, want memory hit", hit.Tier, err)
	}
	testkit.Eventually(t, 5*time.Second, "failed write counted", func() bool { return tc.Stats()[1].Errors >= 6 })
	if st := tc.Stats()[1]; st.Tier != "redis" || st.Errors < 6 {
		t.Errorf("redis stats = %+v, want >= 6 errors (5 reads, 1 write)", st)
	}
}

// TestTieredSlowTier: a Redis that accepts connections and never answers
// (a hung server or a black-holed network) costs each read at most the
// tier timeout, and after FailureThreshold timeouts it is skipped.
func TestTieredSlowTier(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	// No client read timeout and no ContextTimeoutEnabled: only Tiered's
	// own per-tier timeout can end a read, so a broken one hangs the test.
	rdb := goredis.NewClient(&goredis.Options{Addr: ln.Addr().String(), MaxRetries: -1, ReadTimeout: -1})
	t.Cleanup(func() { rdb.Close() })
	rs, err := cacheredis.New(cacheredis.Options{Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	clock := cachetest.NewClock(testNow)
	tc := runTiered(t, cache.TieredOptions{Now: clock.Now, FailureThreshold: 2, Cooldown: time.Minute, Tiers: []cache.Tier{
		{Store: memStore(t, clock), Inline: true},
		{Store: rs, Timeout: 50 * time.Millisecond},
	}})
	for i := range 2 {
		if _, err := tc.Get(ctx, cachetest.SampleKey(t, i)); !errors.Is(err, cache.ErrMiss) {
			t.Fatalf("Get = %v, want ErrMiss", err)
		}
		if got := tc.Stats()[1].Timeouts; got != uint64(i+1) {
			t.Fatalf("after read %d: %d tier timeouts, want %d", i, got, i+1)
		}
	}
	// The tier is now in cooldown: reads skip it, so no more of them
	// reach the hung server and time out (counted below).
	for i := range 100 {
		tc.Get(ctx, cachetest.SampleKey(t, 100+i))
	}
	st := tc.Stats()[1]
	if st.Timeouts != 2 || st.Misses < 100 {
		t.Errorf("stats = %+v, want 2 timeouts and the skipped reads as misses", st)
	}
	// After the cooldown the tier is tried again.
	clock.Advance(time.Minute)
	tc.Get(ctx, cachetest.SampleKey(t, 999))
	if st := tc.Stats()[1]; st.Timeouts != 3 {
		t.Errorf("after cooldown timeouts = %d, want 3", st.Timeouts)
	}
}

func TestTieredCallerCancelled(t *testing.T) {
	clock := cachetest.NewClock(testNow)
	tc := runTiered(t, cache.TieredOptions{Tiers: []cache.Tier{
		{Store: memStore(t, clock), Inline: true},
		{Store: renamed{memStore(t, clock), "redis"}},
	}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tc.Get(ctx, cachetest.SampleKey(t, 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with cancelled ctx = %v, want context.Canceled", err)
	}
}
