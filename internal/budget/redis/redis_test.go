package redis_test

import (
	"context"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/budget"
	"github.com/dsgate/dsgate/internal/budget/budgettest"
	bredis "github.com/dsgate/dsgate/internal/budget/redis"
	"github.com/dsgate/dsgate/internal/testkit"
)

// client connects to DSGATE_TEST_REDIS_ADDR (default 127.0.0.1:6379) and
// skips the test when unreachable (fails it when tests require services).
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

func prefix() string { return "dsgate:test:budget:" + time.Now().Format("150405.000000000") + ":" }

func TestConformance(t *testing.T) {
	budgettest.Run(t, func(t *testing.T) budget.Backend {
		return bredis.New(client(t), bredis.Options{Prefix: prefix()})
	})
}

// Three replicas, each with its own Redis connection, share one budget:
// the burst's overshoot stays below one reservation.
func TestThreeReplicasShareABudget(t *testing.T) {
	p := prefix()
	var backends []budget.Backend
	for range 3 {
		backends = append(backends, bredis.New(client(t), bredis.Options{Prefix: p}))
	}
	budgettest.Burst(t, backends)
}
