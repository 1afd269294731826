package cache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/cache/cachetest"
)

// purgeGatedStore is a remote tier whose writes say when they start and
// then wait for the test.
type purgeGatedStore struct {
	cache.Store
	entered chan cache.Key
	gate    chan struct{}
	written chan cache.Key
}

func (g purgeGatedStore) Name() string { return "redis" }

func (g purgeGatedStore) Set(ctx context.Context, k cache.Key, e cache.Entry, ttl time.Duration) error {
	g.entered <- k
	<-g.gate
	err := g.Store.Set(ctx, k, e, ttl)
	g.written <- k
	return err
}

func newPurgeGated(t *testing.T, clock *cachetest.Clock) purgeGatedStore {
	return purgeGatedStore{Store: memStore(t, clock), entered: make(chan cache.Key, 8),
		gate: make(chan struct{}), written: make(chan cache.Key, 8)}
}

func recv(t *testing.T, ch chan cache.Key, what string) cache.Key {
	t.Helper()
	select {
	case k := <-ch:
		return k
	case <-time.After(2 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return cache.Key{}
	}
}

// A write a worker is making when a purge matches it is hidden from Get
// once made, and then deleted from its tier; a write queued behind it is
// dropped; writes of other models are kept.
func TestTieredPurgeUndoesWritesBegunBefore(t *testing.T) {
	ctx := context.Background()
	clock := cachetest.NewClock(testNow)
	remote := newPurgeGated(t, clock)
	tc := runTiered(t, cache.TieredOptions{Now: clock.Now, Workers: 1, Tiers: []cache.Tier{
		{Store: memStore(t, clock), Inline: true},
		{Store: remote, TTL: time.Hour},
	}})
	inflight, queued, other := cachetest.SampleKey(t, 1), cachetest.SampleKey(t, 2), cachetest.SampleKey(t, 3)
	tc.Set(ctx, inflight, cachetest.SampleEntry("bad-model", 1))
	recv(t, remote.entered, "the first write") // the one worker is in it
	tc.Set(ctx, queued, cachetest.SampleEntry("bad-model", 2))
	tc.Set(ctx, other, cachetest.SampleEntry("good-model", 3))
	if _, err := tc.Purge(ctx, cache.Filter{Model: "bad-model"}); err != nil {
		t.Fatal(err)
	}
	close(remote.gate)
	recv(t, remote.written, "the first write")
	if h, err := tc.Get(ctx, inflight); err == nil {
		t.Errorf("the write under way during the purge is served from %s", h.Tier)
	}
	if k := recv(t, remote.entered, "the other model's write"); k != other {
		t.Errorf("the worker wrote %v next, want the other model's key (the queued one is purged)", k)
	}
	recv(t, remote.written, "the other model's write")
	if _, err := tc.Get(ctx, queued); !errors.Is(err, cache.ErrMiss) {
		t.Errorf("queued write of a purged model: Get err %v, want a miss", err)
	}
	if _, err := tc.Get(ctx, other); err != nil {
		t.Errorf("the other model's entry: %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for has(remote.Store, inflight) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if has(remote.Store, inflight) {
		t.Error("the write made during the purge was not deleted from its tier")
	}
	if s := tc.Stats()[1]; s.Dropped != 1 {
		t.Errorf("remote Dropped = %d, want 1 (the queued write)", s.Dropped)
	}
}
