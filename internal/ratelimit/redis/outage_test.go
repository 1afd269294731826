package redis_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/ratelimit"
	rlredis "github.com/dsgate/dsgate/internal/ratelimit/redis"
)

// TestHungRedisFailsClosedQuickly: a Redis that accepts connections and
// never answers (stopped, or behind a black-holed route) must fail a
// fail-closed limit within the limiter's budget, not after go-redis's 3 s
// read timeout (issue 15: 33 of 40 requests waited and got 504).
func TestHungRedisFailsClosedQuickly(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	client := goredis.NewClient(rlredis.ClientOptions(&goredis.Options{Addr: ln.Addr().String()}))
	defer client.Close()
	l, err := ratelimit.New(ratelimit.Options{Backend: rlredis.New(client, rlredis.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		start := time.Now()
		_, err := l.Acquire(context.Background(), "k", ratelimit.Limits{RPM: 10}, 1)
		if took := time.Since(start); took > 900*time.Millisecond {
			t.Errorf("acquire %d took %v; a failed-closed limit must answer well under a second", i, took)
		}
		if !errors.Is(err, ratelimit.ErrBackendUnavailable) {
			t.Fatalf("acquire %d: err %v, want ErrBackendUnavailable", i, err)
		}
	}
}
