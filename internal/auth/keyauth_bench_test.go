package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

// BenchmarkKeyAuth is the API-key check alone on a cache hit, with and
// without the per-address failure limit (whose Check runs on every request).
//
//	go test -run '^$' -bench KeyAuth -benchtime 200000x ./internal/auth/
func BenchmarkKeyAuth(b *testing.B) {
	ctx := context.Background()
	st := storetest.OpenSQLite(b)
	full, id, hash, err := auth.NewAPIKey()
	if err != nil {
		b.Fatal(err)
	}
	if err := st.CreateKey(ctx, store.Key{ID: id, Name: "bench", Role: "developer", Hash: hash, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	keys := auth.NewKeyAuthenticator(st, auth.KeyAuthenticatorOptions{CacheTTL: time.Hour})
	for name, chain := range map[string]auth.Chain{
		"cache-hit":              {Keys: keys},
		"cache-hit+failurelimit": {Keys: keys, Failures: auth.NewFailureLimiter(auth.FailureLimiterOptions{})},
	} {
		b.Run(name, func(b *testing.B) {
			actx := auth.WithClientAddr(ctx, "203.0.113.7:4711")
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := chain.AuthenticateCredential(actx, full); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
