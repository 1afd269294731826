// Package cachetest is the conformance suite every cache.Store passes, and a
// fake clock for time-based tests. Backends call Run from their tests.
package cachetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/dsgate/dsgate/internal/cache"
)

// Clock is a manual clock for stores that take a Now function.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock stopped at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the current fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// NewStoreFunc builds a fresh, empty store for one subtest, using clock for
// every expiry decision, and registers its cleanup with t.
type NewStoreFunc func(t *testing.T, clock *Clock) cache.Store

// SampleEntry returns a distinct, realistic entry for model.
func SampleEntry(model string, i int) cache.Entry {
	body := fmt.Sprintf(`{"id":"chatcmpl-%d","object":"chat.completion","created":1741570283,"model":%q,`+
		`"choices":[{"index":0,"message":{"role":"assistant","content":"answer %d"},"logprobs":null,"finish_reason":"stop"}],`+
		`"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`, i, model, i)
	return cache.Entry{
		Body:      []byte(body),
		Chunks:    [][]byte{[]byte(fmt.Sprintf(`{"chunk":%d}`, i)), []byte(`{"chunk":"last"}`)},
		Model:     model,
		CreatedAt: time.Unix(1741570283, 123456789).UTC(),
		Usage:     cache.Usage{PromptTokens: 9, CompletionTokens: 2, TotalTokens: 11, ReasoningTokens: 1, CachedTokens: 4},
	}
}

// SampleKey returns a distinct key for i.
func SampleKey(t testing.TB, i int) cache.Key {
	t.Helper()
	k, err := cache.DeriveKey("chat.completions", []byte(fmt.Sprintf(`{"i":%d}`, i)),
		cache.KeyParts{Scope: t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var entryCmp = []cmp.Option{
	cmpopts.IgnoreFields(cache.Entry{}, "ExpiresAt"),
	cmpopts.EquateEmpty(),
	// bytes.Equal keeps the 1 MiB comparison fast; cmp's reflective diff
	// of a large slice takes seconds under -race.
	cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) }),
}

// Run runs the conformance suite against stores made by newStore.
func Run(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s cache.Store, clock *Clock)
	}{
		{"MissOnEmpty", testMiss},
		{"SetGet", testSetGet},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"TTL", testTTL},
		{"DefaultTTL", testDefaultTTL},
		{"PurgeModel", testPurgeModel},
		{"PurgeAll", testPurgeAll},
		{"Stats", testStats},
		{"LargeEntry", testLarge},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := NewClock(time.Now().Truncate(time.Second))
			tt.fn(t, newStore(t, clock), clock)
		})
	}
}

func mustSet(t *testing.T, s cache.Store, k cache.Key, e cache.Entry, ttl time.Duration) {
	t.Helper()
	if err := s.Set(context.Background(), k, e, ttl); err != nil {
		t.Fatalf("Set: %v", err)
	}
}

func wantHit(t *testing.T, s cache.Store, k cache.Key, want cache.Entry) cache.Entry {
	t.Helper()
	got, err := s.Get(context.Background(), k)
	if err != nil {
		t.Fatalf("Get: %v, want hit", err)
	}
	if diff := cmp.Diff(want, got, entryCmp...); diff != "" {
		t.Fatalf("Get mismatch (-want +got):\n%s", diff)
	}
	return got
}

func wantMiss(t *testing.T, s cache.Store, k cache.Key) {
	t.Helper()
	if _, err := s.Get(context.Background(), k); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("Get error = %v, want ErrMiss", err)
	}
}

func testMiss(t *testing.T, s cache.Store, _ *Clock) {
	wantMiss(t, s, SampleKey(t, 1))
}

func testSetGet(t *testing.T, s cache.Store, clock *Clock) {
	k, e := SampleKey(t, 1), SampleEntry("m", 1)
	mustSet(t, s, k, e, time.Minute)
	got := wantHit(t, s, k, e)
	if want := clock.Now().Add(time.Minute); !got.ExpiresAt.IsZero() && !got.ExpiresAt.Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, want)
	}
	noChunks := SampleEntry("m", 2)
	noChunks.Chunks = nil
	mustSet(t, s, SampleKey(t, 2), noChunks, time.Minute)
	wantHit(t, s, SampleKey(t, 2), noChunks)
	wantHit(t, s, k, e)
}

func testOverwrite(t *testing.T, s cache.Store, _ *Clock) {
	k := SampleKey(t, 1)
	mustSet(t, s, k, SampleEntry("m", 1), time.Minute)
	mustSet(t, s, k, SampleEntry("m", 2), time.Minute)
	wantHit(t, s, k, SampleEntry("m", 2))
}

func testDelete(t *testing.T, s cache.Store, _ *Clock) {
	ctx := context.Background()
	k := SampleKey(t, 1)
	mustSet(t, s, k, SampleEntry("m", 1), time.Minute)
	if err := s.Delete(ctx, k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantMiss(t, s, k)
	if err := s.Delete(ctx, SampleKey(t, 99)); err != nil {
		t.Fatalf("Delete of absent key: %v", err)
	}
}

func testTTL(t *testing.T, s cache.Store, clock *Clock) {
	k := SampleKey(t, 1)
	mustSet(t, s, k, SampleEntry("m", 1), time.Minute)
	clock.Advance(59 * time.Second)
	wantHit(t, s, k, SampleEntry("m", 1))
	clock.Advance(time.Second)
	wantMiss(t, s, k)
}

func testDefaultTTL(t *testing.T, s cache.Store, clock *Clock) {
	k := SampleKey(t, 1)
	mustSet(t, s, k, SampleEntry("m", 1), 0)
	got := wantHit(t, s, k, SampleEntry("m", 1))
	if !got.ExpiresAt.IsZero() && !got.ExpiresAt.After(clock.Now()) {
		t.Errorf("ExpiresAt = %v, want after %v", got.ExpiresAt, clock.Now())
	}
}

func testPurgeModel(t *testing.T, s cache.Store, _ *Clock) {
	ctx := context.Background()
	models := []string{"deepseek-chat", "deepseek-chat", "deepseek-reasoner"}
	for i, m := range models {
		mustSet(t, s, SampleKey(t, i), SampleEntry(m, i), time.Minute)
	}
	n, err := s.Purge(ctx, cache.Filter{Model: "deepseek-chat"})
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if n != 2 {
		t.Errorf("Purge removed %d, want 2", n)
	}
	wantMiss(t, s, SampleKey(t, 0))
	wantMiss(t, s, SampleKey(t, 1))
	wantHit(t, s, SampleKey(t, 2), SampleEntry("deepseek-reasoner", 2))
}

func testPurgeAll(t *testing.T, s cache.Store, _ *Clock) {
	for i := range 3 {
		mustSet(t, s, SampleKey(t, i), SampleEntry(fmt.Sprint("m", i), i), time.Minute)
	}
	n, err := s.Purge(context.Background(), cache.Filter{})
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if n != 3 {
		t.Errorf("Purge removed %d, want 3", n)
	}
	for i := range 3 {
		wantMiss(t, s, SampleKey(t, i))
	}
}

func testStats(t *testing.T, s cache.Store, _ *Clock) {
	k := SampleKey(t, 1)
	wantMiss(t, s, k)
	mustSet(t, s, k, SampleEntry("m", 1), time.Minute)
	wantHit(t, s, k, SampleEntry("m", 1))
	st := s.Stats()
	if st.Tier != s.Name() || st.Tier == "" {
		t.Errorf("Stats().Tier = %q, Name() = %q", st.Tier, s.Name())
	}
	if st.Hits < 1 || st.Misses < 1 || st.Sets < 1 || st.Errors != 0 {
		t.Errorf("Stats = %+v, want hits, misses, sets >= 1 and no errors", st)
	}
}

func testLarge(t *testing.T, s cache.Store, _ *Clock) {
	e := SampleEntry("m", 1)
	e.Body = make([]byte, 1<<20)
	for i := range e.Body {
		e.Body[i] = byte('a' + i%26)
	}
	e.Chunks = make([][]byte, 500)
	for i := range e.Chunks {
		e.Chunks[i] = []byte(fmt.Sprintf(`{"i":%d}`, i))
	}
	mustSet(t, s, SampleKey(t, 1), e, time.Minute)
	wantHit(t, s, SampleKey(t, 1), e)
}

func testConcurrent(t *testing.T, s cache.Store, _ *Clock) {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 8 {
				k := SampleKey(t, g*100+i)
				if err := s.Set(context.Background(), k, SampleEntry("m", i), time.Minute); err != nil {
					errs <- err
					return
				}
				if _, err := s.Get(context.Background(), k); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
