package redis_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/ratelimit/ratelimittest"
	rlredis "github.com/dsgate/dsgate/internal/ratelimit/redis"
	"github.com/dsgate/dsgate/internal/testkit"
)

// Client connects to DSGATE_TEST_REDIS_ADDR (default 127.0.0.1:6379) and
// skips the test when unreachable, or fails it when CI=true.
func client(t testing.TB) *goredis.Client {
	t.Helper()
	addr := os.Getenv("DSGATE_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		testkit.Need(t, "redis at "+addr, "start it or set DSGATE_TEST_REDIS_ADDR", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func prefix(t testing.TB) string {
	return "dsgate:test:" + time.Now().Format("150405.000000000") + ":"
}

func TestConformance(t *testing.T) {
	p := prefix(t)
	var once sync.Once
	var c *goredis.Client
	ratelimittest.Run(t, func(t *testing.T) ratelimit.Backend {
		once.Do(func() { c = client(t) })
		// A new client per call, like separate replicas sharing one Redis.
		rc := goredis.NewClient(&goredis.Options{Addr: c.Options().Addr})
		t.Cleanup(func() { rc.Close() })
		return rlredis.New(rc, rlredis.Options{Prefix: p, ClientTime: true})
	})
}

// TestReplicasBurstServerTime is the multi-replica acceptance check with
// real (Redis server) time: three limiters with their own connections, 400
// concurrent requests, 120 rpm; admitted must be within 2% of 120.
func TestReplicasBurstServerTime(t *testing.T) {
	base := client(t)
	p := prefix(t)
	var limiters []*ratelimit.Limiter
	for i := 0; i < 3; i++ {
		rc := goredis.NewClient(&goredis.Options{Addr: base.Options().Addr})
		t.Cleanup(func() { rc.Close() })
		l, err := ratelimit.New(ratelimit.Options{Backend: rlredis.New(rc, rlredis.Options{Prefix: p}), Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		limiters = append(limiters, l)
	}
	start := time.Now()
	admitted := ratelimittest.Burst(context.Background(), limiters, "burst", ratelimit.Limits{RPM: 120}, 400)
	elapsed := time.Since(start)
	// GCRA refills 2 requests per second, so a slow run may admit a few
	// more than 120; 2% of 120 is 2.4.
	if admitted < 118 || admitted > 122 {
		t.Fatalf("admitted %d of 400 in %v, want 120±2%%", admitted, elapsed)
	}
	t.Logf("admitted %d of 400 in %v", admitted, elapsed)
}

func TestUnreachableFailsPolicy(t *testing.T) {
	rc := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer rc.Close()
	for _, failOpen := range []bool{true, false} {
		l, _ := ratelimit.New(ratelimit.Options{Backend: rlredis.New(rc, rlredis.Options{}), FailOpen: failOpen, Timeout: time.Second})
		_, err := l.Acquire(context.Background(), "k", ratelimit.Limits{RPM: 1}, 0)
		if failOpen != (err == nil) {
			t.Fatalf("failOpen=%v: err = %v", failOpen, err)
		}
		if l.Stats().BackendErrors != 1 {
			t.Fatalf("failOpen=%v: stats = %+v", failOpen, l.Stats())
		}
	}
}
