package cache_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
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

// Issue 22: the full pipeline's memory tier, bounded at 16 MiB, held 27 MB
// of heap under load (a heap profile: 14.8 MB of answers, 10.2 MB of
// otter's nodes, 2 MB of its hash table and frequency sketch): Entry.Size
// charged an entry 128 bytes besides its bytes where an entry of otter's
// costs several hundred, so small answers doubled the tier's memory. The
// bound now holds for the heap the tier really keeps, measured with small
// answers, where the per-entry cost weighs most.
func TestMemoryHeapWithinMaxBytes(t *testing.T) {
	for _, body := range []int{200, 2000, 2305, 40000} { // 2305: just past a size class
		t.Run(fmt.Sprint(body), func(t *testing.T) {
			const maxBytes = 4 << 20
			before := testkit.LiveHeap()
			m, err := cache.NewMemory(cache.MemoryOptions{MaxBytes: maxBytes})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			n := 3 * maxBytes / body // three times what fits
			charge := cache.Entry{Body: make([]byte, body), Model: "deepseek-chat"}.Size()
			for i := range n {
				e := cache.Entry{Body: make([]byte, body), Model: "deepseek-chat", CreatedAt: time.Now()}
				var k cache.Key
				binary.LittleEndian.PutUint64(k[:], uint64(i)+1)
				if err := m.Set(context.Background(), k, e, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			testkit.Eventually(t, 5*time.Second, "eviction to catch up", func() bool {
				return m.Stats().Bytes <= maxBytes && m.Stats().Entries*int64(charge) <= maxBytes
			})
			held := testkit.LiveHeap() - before
			t.Logf("%d-byte answers: %d entries, heap %d bytes (%.2fx max_bytes), %.0f bytes an entry",
				body, m.Stats().Entries, held, float64(held)/maxBytes, float64(held)/float64(m.Stats().Entries))
			if held > maxBytes*11/10 {
				t.Errorf("a %d-byte tier holds %d bytes of heap with %d-byte answers", maxBytes, held, body)
			}
			runtime.KeepAlive(m)
		})
	}
}
