package disk_test

import (
	"context"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/cache/cachetest"
	"github.com/dsgate/dsgate/internal/cache/disk"
)

func open(t *testing.T, dir string, clock *cachetest.Clock) *disk.Store {
	t.Helper()
	s, err := disk.Open(disk.Options{Dir: dir, TTL: time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDiskConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T, clock *cachetest.Clock) cache.Store {
		s := open(t, t.TempDir(), clock)
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestDiskSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := cachetest.NewClock(time.Now())
	s := open(t, dir, clock)
	k, e := cachetest.SampleKey(t, 1), cachetest.SampleEntry("deepseek-chat", 1)
	if err := s.Set(ctx, k, e, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, clock)
	defer s.Close()
	got, err := s.Get(ctx, k)
	if err != nil {
		t.Fatalf("Get after reopen: %v", err)
	}
	if string(got.Body) != string(e.Body) || got.Model != e.Model || !got.ExpiresAt.Equal(clock.Now().Add(time.Hour)) {
		t.Errorf("after reopen got %+v", got)
	}
	// The stored TTL still holds after the restart.
	clock.Advance(time.Hour)
	if _, err := s.Get(ctx, k); err != cache.ErrMiss {
		t.Errorf("Get after expiry = %v, want ErrMiss", err)
	}
}

func TestDiskSweep(t *testing.T) {
	ctx := context.Background()
	clock := cachetest.NewClock(time.Now())
	s := open(t, t.TempDir(), clock)
	defer s.Close()
	for i := range 5 {
		ttl := time.Minute
		if i%2 == 0 {
			ttl = time.Hour
		}
		if err := s.Set(ctx, cachetest.SampleKey(t, i), cachetest.SampleEntry("m", i), ttl); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(2 * time.Minute)
	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("Sweep deleted %d, want 2", n)
	}
	for i := range 5 {
		_, err := s.Get(ctx, cachetest.SampleKey(t, i))
		if (i%2 == 0) != (err == nil) {
			t.Errorf("key %d: Get error %v", i, err)
		}
	}
}
