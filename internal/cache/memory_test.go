package cache_test

import (
	"context"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/cache/cachetest"
	"github.com/dsgate/dsgate/internal/testkit"
)

func newMemory(t *testing.T, clock *cachetest.Clock) cache.Store {
	t.Helper()
	m, err := cache.NewMemory(cache.MemoryOptions{MaxBytes: 64 << 20, TTL: time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestMemoryConformance(t *testing.T) {
	cachetest.Run(t, newMemory)
}

func TestMemoryBoundedInBytes(t *testing.T) {
	clock := cachetest.NewClock(time.Now())
	m, err := cache.NewMemory(cache.MemoryOptions{MaxBytes: 64 << 10, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e := cachetest.SampleEntry("m", 0)
	e.Body = make([]byte, 4<<10)
	for i := range 200 {
		if err := m.Set(context.Background(), cachetest.SampleKey(t, i), e, 0); err != nil {
			t.Fatal(err)
		}
	}
	// Eviction runs in otter's maintenance; poll until it has caught up.
	testkit.Eventually(t, 5*time.Second, "the cache to hold at most 64 KiB", func() bool {
		present := 0
		for i := range 200 {
			if _, err := m.Get(context.Background(), cachetest.SampleKey(t, i)); err == nil {
				present++
			}
		}
		return m.Stats().Bytes <= 64<<10 && present*e.Size() <= 64<<10
	})
}
