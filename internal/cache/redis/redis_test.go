package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/cache/cachetest"
	cacheredis "github.com/dsgate/dsgate/internal/cache/redis"
	"github.com/dsgate/dsgate/internal/testkit"
)

// testClient connects to DSGATE_TEST_REDIS_ADDR (default 127.0.0.1:6379).
// Without a server the test is skipped, or fails when CI=true.
func testClient(t *testing.T) *goredis.Client {
	t.Helper()
	addr := os.Getenv("DSGATE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		testkit.Need(t, "redis at "+addr, "start it or set DSGATE_TEST_REDIS_ADDR", err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// newStore gives each test its own key prefix and removes its keys after.
func newStore(t *testing.T, clock *cachetest.Clock) cache.Store {
	t.Helper()
	rdb := testClient(t)
	var b [6]byte
	rand.Read(b[:])
	prefix := "dsgatetest:" + hex.EncodeToString(b[:]) + ":"
	s, err := cacheredis.New(cacheredis.Options{Client: rdb, Prefix: prefix, TTL: time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := s.Purge(context.Background(), cache.Filter{}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return s
}

func TestRedisConformance(t *testing.T) {
	cachetest.Run(t, newStore)
}

func TestRedisUsesServerTTL(t *testing.T) {
	rdb := testClient(t)
	clock := cachetest.NewClock(time.Now())
	s := newStore(t, clock)
	k := cachetest.SampleKey(t, 1)
	if err := s.Set(context.Background(), k, cachetest.SampleEntry("m", 1), 90*time.Second); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, key := range rdb.Keys(context.Background(), "dsgatetest:*e:"+k.String()).Val() {
		ttl := rdb.TTL(context.Background(), key).Val()
		if ttl <= 0 || ttl > 90*time.Second {
			t.Errorf("TTL of %s = %v, want (0, 90s]", key, ttl)
		}
		found = true
	}
	if !found {
		t.Fatal("entry key not found in redis")
	}
}

func TestRedisDown(t *testing.T) {
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", DialTimeout: 50 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	s, err := cacheredis.New(cacheredis.Options{Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(context.Background(), cachetest.SampleKey(t, 1)); err == nil || err == cache.ErrMiss {
		t.Fatalf("Get error = %v, want a connection error", err)
	}
	if st := s.Stats(); st.Errors != 1 {
		t.Errorf("Errors = %d, want 1", st.Errors)
	}
}
