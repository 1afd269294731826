// Package redis is a budget.Backend in Redis, shared by every replica:
// spend across replicas is one counter per budget and period. A
// reservation is one Lua script (check every counter, then add to all, or
// to none), so concurrent replicas cannot both take the last of a budget
// without seeing each other's reservation.
//
// Keys: <prefix>{budget}<rule>/<period start>, values in nano-units. One
// hash tag for all budget counters keeps a request's key and team
// counters on one Redis Cluster slot (a multi-key script needs that); it
// is one script per request, far below a slot's capacity. Counters expire
// two days after their period ends.
package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/budget"
)

//go:embed reserve.lua
var reserveSrc string

// Options configures a Backend.
type Options struct {
	// Prefix starts every key; default "dsgate:budget:".
	Prefix string
	// Now is the clock for TTLs; default time.Now.
	Now func() time.Time
}

// Backend is a budget.Backend over a go-redis client.
type Backend struct {
	client  goredis.Cmdable
	prefix  string
	now     func() time.Time
	reserve *goredis.Script
}

var _ budget.Backend = (*Backend)(nil)

// New returns a backend using client (a *redis.Client or ClusterClient);
// the caller owns and closes the client.
func New(client goredis.Cmdable, o Options) *Backend {
	if o.Prefix == "" {
		o.Prefix = "dsgate:budget:"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Backend{client: client, prefix: o.Prefix + "{budget}", now: o.Now, reserve: goredis.NewScript(reserveSrc)}
}

func (b *Backend) keys(cs []budget.Counter) []string {
	keys := make([]string, len(cs))
	for i, c := range cs {
		keys[i] = b.prefix + c.Key
	}
	return keys
}

// Reserve implements budget.Backend.
func (b *Backend) Reserve(ctx context.Context, cs []budget.Counter, amount int64) ([]int64, int, error) {
	args := make([]any, 0, 1+2*len(cs))
	args = append(args, amount)
	for _, c := range cs {
		args = append(args, c.Limit)
	}
	now := b.now()
	for _, c := range cs {
		args = append(args, max(c.Expire.Sub(now).Milliseconds(), 1000))
	}
	res, err := b.reserve.Run(ctx, b.client, b.keys(cs), args...).Int64Slice()
	if err != nil {
		return nil, 0, fmt.Errorf("redis budget: %w", err)
	}
	if len(res) != len(cs)+1 {
		return nil, 0, errors.New("redis budget: malformed script reply")
	}
	return res[1:], int(res[0]) - 1, nil
}

// Add implements budget.Backend: one INCRBY per counter in a transaction.
func (b *Backend) Add(ctx context.Context, cs []budget.Counter, delta int64) error {
	keys := b.keys(cs)
	_, err := b.client.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		for _, k := range keys {
			p.IncrBy(ctx, k, delta)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redis budget: %w", err)
	}
	return nil
}

// Spent implements budget.Backend.
func (b *Backend) Spent(ctx context.Context, key string) (int64, error) {
	v, err := b.client.Get(ctx, b.prefix+key).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("redis budget: %w", err)
	}
	return v, nil
}
