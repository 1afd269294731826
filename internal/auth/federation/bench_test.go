package federation

import (
	"context"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/testkit/idptest"
)

// BenchmarkExternalToken is the cost of authenticating one request with an
// IdP's token when the keys are cached (the steady state): routing by iss,
// RS256 verification, claim checks and mapping. The IdP is the zitadel
// example OP; it is not called during the timed loops. chain-cached-1s
// reuses a verified token for a second (auth.key_cache_ttl's default), the
// server's setting.
func BenchmarkExternalToken(b *testing.B) {
	op := idptest.Start(b, idptest.Options{Services: []idptest.Service{
		{ID: "svc-reporting", Secret: "s1", Audience: "dsgate", Groups: []string{"ml"}}}})
	f, err := New([]IssuerOptions{{Name: "corp", Issuer: op.Issuer, Audiences: []string{"dsgate"},
		Mapping: Mapping{Rules: []Rule{{Claim: "groups", Value: "ml", Role: "developer", Team: "ml"}}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	tok := op.ServiceToken(b, "svc-reporting", "s1")
	ctx := context.Background()
	if _, err := f.AuthenticateExternal(ctx, tok); err != nil {
		b.Fatal(err)
	}
	fetches := op.KeyFetches.Load()
	b.Run("federation", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := f.AuthenticateExternal(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	chain := auth.Chain{External: f}
	b.Run("chain", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := chain.AuthenticateCredential(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("chain-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := chain.AuthenticateCredential(ctx, tok); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	cached, err := New([]IssuerOptions{{Name: "corp", Issuer: op.Issuer, Audiences: []string{"dsgate"}, CacheTTL: time.Second,
		Mapping: Mapping{Rules: []Rule{{Claim: "groups", Value: "ml", Role: "developer", Team: "ml"}}}}})
	if err != nil {
		b.Fatal(err)
	}
	defer cached.Close()
	cachedChain := auth.Chain{External: cached}
	b.Run("chain-cached-1s", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := cachedChain.AuthenticateCredential(ctx, tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	if n := op.KeyFetches.Load() - fetches; n > 1 {
		b.Fatalf("the IdP's keys were fetched %d times during the benchmark (1 expected: the cached issuer's set-up)", n)
	}
}
