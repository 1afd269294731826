package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/ratelimit"
	rlredis "github.com/dsgate/dsgate/internal/ratelimit/redis"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

// BenchmarkPipeline measures what dsgate adds per request for identity and
// access: authenticate an API key (cache hit), authorize the chat route
// with a model, admit through the rate limiter and settle the ticket.
//
//	go test -run '^$' -bench Pipeline -benchtime 20000x ./internal/auth/
func BenchmarkPipeline(b *testing.B) {
	ctx := context.Background()
	st := storetest.OpenSQLite(b)
	full, id, hash, err := auth.NewAPIKey()
	if err != nil {
		b.Fatal(err)
	}
	if err := st.CreateKey(ctx, store.Key{ID: id, Name: "bench", Role: "developer", Hash: hash,
		Models: []string{"deepseek-*"}, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	authn := auth.Chain{Keys: auth.NewKeyAuthenticator(st, auth.KeyAuthenticatorOptions{CacheTTL: time.Hour})}
	pol, err := auth.NewPolicy(nil)
	if err != nil {
		b.Fatal(err)
	}
	limits := ratelimit.Limits{RPM: 100_000_000, TPM: 1_000_000_000, MaxConcurrent: 1_000}

	backends := map[string]func(b *testing.B) ratelimit.Backend{
		"memory": func(*testing.B) ratelimit.Backend { return ratelimit.NewMemoryBackend() },
		"redis": func(b *testing.B) ratelimit.Backend {
			addr := os.Getenv("DSGATE_TEST_REDIS_ADDR")
			if addr == "" {
				addr = "127.0.0.1:6379"
			}
			c := goredis.NewClient(&goredis.Options{Addr: addr, PoolSize: 64})
			if err := c.Ping(ctx).Err(); err != nil {
				b.Skipf("redis at %s unreachable: %v", addr, err)
			}
			b.Cleanup(func() { c.Close() })
			return rlredis.New(c, rlredis.Options{Prefix: "dsgate:bench:" + time.Now().Format("150405.000") + ":"})
		},
	}
	one := func(b *testing.B, lim *ratelimit.Limiter, req *http.Request) {
		p, err := authn.Authenticate(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if err := pol.Allow(p, auth.ResourceTextGeneration, auth.ActionRead, "deepseek-chat"); err != nil {
			b.Fatal(err)
		}
		t, err := lim.Acquire(ctx, p.LimitKey(), limits, 500)
		if err != nil {
			b.Fatal(err)
		}
		if err := t.Done(ctx, 420); err != nil {
			b.Fatal(err)
		}
	}
	newReq := func() *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
		req.Header.Set("Authorization", "Bearer "+full)
		return req
	}
	for _, name := range []string{"memory", "redis"} {
		b.Run(name+"/serial", func(b *testing.B) {
			lim, _ := ratelimit.New(ratelimit.Options{Backend: backends[name](b), Timeout: time.Second})
			req := newReq()
			b.ReportAllocs()
			for b.Loop() {
				one(b, lim, req)
			}
		})
		b.Run(name+"/parallel64", func(b *testing.B) {
			lim, _ := ratelimit.New(ratelimit.Options{Backend: backends[name](b), Timeout: time.Second})
			b.ReportAllocs()
			b.SetParallelism(max(64/testingProcs(), 1))
			b.RunParallel(func(pb *testing.PB) {
				req := newReq()
				for pb.Next() {
					one(b, lim, req)
				}
			})
		})
	}
}

// testingProcs is GOMAXPROCS; RunParallel starts SetParallelism*GOMAXPROCS
// goroutines, so 64/GOMAXPROCS gives concurrency 64.
func testingProcs() int { return runtime.GOMAXPROCS(0) }
