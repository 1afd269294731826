// Package redis is a ratelimit.Backend in Redis, shared by every replica.
// Each admission is one Lua script (one round trip) that applies GCRA to
// the RPM and TPM limits and a sorted set of tickets for concurrency, and
// commits only if all admit. Times come from the Redis server (TIME), so
// replica clocks need not agree.
//
// Keys: <prefix>{<key>}:r (RPM tat), :t (TPM tat), :c (concurrency tickets);
// the hash tag keeps a key's three entries on one Redis Cluster slot. Every
// entry expires when idle.
package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/ratelimit"
)

//go:embed admit.lua
var admitSrc string

//go:embed settle.lua
var settleSrc string

// Options configures a Backend.
type Options struct {
	// Prefix starts every key; default "dsgate:rl:".
	Prefix string
	// ClientTime uses the limiter's clock instead of the Redis server's
	// (tests with a fake clock).
	ClientTime bool
}

// Backend is a ratelimit.Backend over a go-redis client.
type Backend struct {
	client        goredis.Scripter
	prefix        string
	clientTime    bool
	admit, settle *goredis.Script
}

var _ ratelimit.Backend = (*Backend)(nil)

// New returns a backend using client (a *redis.Client, ClusterClient or
// Ring); the caller owns and closes the client.
func New(client goredis.Scripter, opts Options) *Backend {
	if opts.Prefix == "" {
		opts.Prefix = "dsgate:rl:"
	}
	return &Backend{client: client, prefix: opts.Prefix, clientTime: opts.ClientTime,
		admit: goredis.NewScript(admitSrc), settle: goredis.NewScript(settleSrc)}
}

func (b *Backend) keys(key string) []string {
	base := b.prefix + "{" + key + "}"
	return []string{base + ":r", base + ":t", base + ":c"}
}

func (b *Backend) now(t time.Time) int64 {
	if !b.clientTime {
		return 0 // the script reads TIME
	}
	return t.UnixMicro()
}

var dims = []ratelimit.Dimension{"", ratelimit.Requests, ratelimit.Tokens, ratelimit.Concurrency}

// Admit implements ratelimit.Backend.
func (b *Backend) Admit(ctx context.Context, a ratelimit.Admission) (ratelimit.Decision, error) {
	res, err := b.admit.Run(ctx, b.client, b.keys(a.Key), b.now(a.Now), a.Limits.RPM, a.Limits.TPM,
		a.Limits.MaxConcurrent, a.Tokens, a.Ticket, a.SlotTTL.Microseconds()).Int64Slice()
	if err != nil {
		return ratelimit.Decision{}, fmt.Errorf("redis rate limit: %w", err)
	}
	if len(res) != 8 || res[1] < 0 || res[1] > 3 {
		return ratelimit.Decision{}, errors.New("redis rate limit: unexpected script reply")
	}
	us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
	d := ratelimit.Decision{
		Allowed:    res[0] == 1,
		Dimension:  dims[res[1]],
		RetryAfter: us(res[2]),
		Inflight:   res[7],
	}
	if a.Limits.RPM > 0 {
		d.Requests = ratelimit.State{Limit: a.Limits.RPM, Remaining: remaining(res[3], a.Limits.RPM), Reset: us(res[4])}
	}
	if a.Limits.TPM > 0 {
		d.Tokens = ratelimit.State{Limit: a.Limits.TPM, Remaining: remaining(res[5], a.Limits.TPM), Reset: us(res[6])}
	}
	return d, nil
}

// maxScriptRemaining is the largest remaining count the admit script
// sends (2^53, the end of the doubles that are exact integers); it stands
// for counts too large to tell apart from the whole limit.
const maxScriptRemaining = 1 << 53

// remaining reads the script's remaining count of a limit.
func remaining(v, limit int64) int64 {
	if v >= maxScriptRemaining {
		return limit
	}
	return min(v, limit)
}

// Settle implements ratelimit.Backend.
func (b *Backend) Settle(ctx context.Context, s ratelimit.Settlement) error {
	release := 0
	if s.Release {
		release = 1
	}
	err := b.settle.Run(ctx, b.client, b.keys(s.Key), b.now(s.Now), s.Limits.TPM, s.TokenDelta, s.Ticket, release).Err()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("redis rate limit settle: %w", err)
	}
	return nil
}

// ClientOptions adjusts o for a client that serves rate limits: every
// call honours its context's deadline (the limiter's short budget), so a
// hung or unreachable Redis fails a request in that budget instead of
// go-redis's dial and read timeouts (5 s and 3 s). It returns o.
func ClientOptions(o *goredis.Options) *goredis.Options {
	o.ContextTimeoutEnabled = true
	return o
}
