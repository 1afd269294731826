package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/cache/cachetest"
	cacheredis "github.com/dsgate/dsgate/internal/cache/redis"
	"github.com/dsgate/dsgate/internal/testkit/faultproxy"
)

// failFast bounds one lookup while Redis is unreachable: the tier's 50 ms
// read timeout plus scheduling slack on a loaded machine.
const failFast = 300 * time.Millisecond

// An outage of Redis makes the tier a miss within its read timeout (then a
// skipped tier while it cools down), shows in the tier's lookup counts, and
// ends without a restart: once Redis answers again, so does the tier.
func TestRedisTierOutageAndRecovery(t *testing.T) {
	testClient(t) // skips without Redis
	addr := os.Getenv("DSGATE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	proxy := faultproxy.Start(t, addr)
	rdb := goredis.NewClient(cacheredis.ClientOptions(proxy.Addr(), "", 0))
	t.Cleanup(func() { rdb.Close() })
	var b [6]byte
	rand.Read(b[:])
	st, err := cacheredis.New(cacheredis.Options{Client: rdb, Prefix: "dsgatetest:" + hex.EncodeToString(b[:]) + ":"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Purge(context.Background(), cache.Filter{}) })
	tc, err := cache.NewTiered(cache.TieredOptions{Tiers: []cache.Tier{{Store: st}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := cachetest.SampleKey(t, 1)
	if err := st.Set(ctx, key, cachetest.SampleEntry("deepseek-chat", 1), time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Get(ctx, key); err != nil {
		t.Fatalf("before the outage: %v", err)
	}

	for _, mode := range []struct {
		name string
		m    faultproxy.Mode
	}{{"down", faultproxy.Down}, {"blackhole", faultproxy.Blackhole}} {
		proxy.Set(mode.m)
		for i := range 10 {
			start := time.Now()
			_, err := tc.Get(ctx, key)
			if took := time.Since(start); took > failFast {
				t.Errorf("%s: lookup %d took %v, want under %v", mode.name, i, took, failFast)
			}
			if !errors.Is(err, cache.ErrMiss) {
				t.Errorf("%s: lookup %d = %v, want a miss", mode.name, i, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		l := tc.Lookups()[0]
		if l.Errors+l.Timeouts == 0 || l.Skipped == 0 {
			t.Errorf("%s: lookups %+v: the outage is not visible (want errors or timeouts, then skipped)", mode.name, l)
		}
		proxy.Set(faultproxy.Up)
		waitHit(t, tc, key, mode.name)
	}
}

// waitHit waits until the tier answers key again, well within a few
// cooldowns of the tier.
func waitHit(t *testing.T, tc *cache.Tiered, key cache.Key, after string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := tc.Get(context.Background(), key); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: the tier did not recover within 5s: %+v", after, tc.Lookups())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
