package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/ratelimit"
	rlredis "github.com/dsgate/dsgate/internal/ratelimit/redis"
	"github.com/dsgate/dsgate/internal/testkit"
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
	// No client read or write timeout: only the limiter's own budget
	// (ClientOptions lets go-redis honour the context deadline) can end a
	// call, so without it Acquire would never return.
	client := goredis.NewClient(rlredis.ClientOptions(&goredis.Options{Addr: ln.Addr().String(),
		ReadTimeout: -1, WriteTimeout: -1}))
	defer client.Close()
	l, err := ratelimit.New(ratelimit.Options{Backend: rlredis.New(client, rlredis.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		done := make(chan error, 1)
		go func() {
			_, err := l.Acquire(context.Background(), "k", ratelimit.Limits{RPM: 10}, 1)
			done <- err
		}()
		testkit.Eventually(t, 30*time.Second, fmt.Sprintf("acquire %d to fail closed within the limiter's budget", i),
			func() bool {
				select {
				case err = <-done:
					return true
				default:
					return false
				}
			})
		if !errors.Is(err, ratelimit.ErrBackendUnavailable) {
			t.Fatalf("acquire %d: err %v, want ErrBackendUnavailable", i, err)
		}
	}
}
