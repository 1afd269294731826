package upstream_test

import (
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/upstream"
)

// benchPool is three targets (weights 3,2,1) under one policy, with the
// default routing rules, as the server builds a model's pool.
func benchPool(b *testing.B, policy string) *upstream.Pool {
	b.Helper()
	sel, err := upstream.NewSelector(policy)
	if err != nil {
		b.Fatal(err)
	}
	ts := []*upstream.Target{
		target("a", 3, 0, upstream.Options{}),
		target("b", 2, 0, upstream.Options{}),
		target("c", 1, 0, upstream.Options{}),
	}
	for i, t := range ts { // give ewma_latency something to compare
		observe(t.Upstream, time.Duration(i+1)*time.Millisecond, 1)
	}
	return upstream.NewPool(ts, sel, upstream.DefaultRules())
}

// BenchmarkSelect is the routing cost of one request: pick a target among
// three (Pool.Next, which checks availability and the routing rules) and
// take and release its slot and breaker permission (Begin/End).
func BenchmarkSelect(b *testing.B) {
	for _, policy := range upstream.Policies {
		b.Run(policy, func(b *testing.B) {
			p := benchPool(b, policy)
			c := upstream.Class{MaxTokens: 256, PromptChars: 500} // no rule matches
			b.ReportAllocs()
			for b.Loop() {
				t := p.Next(c, nil)
				if !t.Upstream.Begin() {
					b.Fatal("Begin refused")
				}
				t.Upstream.End(upstream.Success, time.Millisecond, nil)
			}
		})
	}
}

// BenchmarkSelectParallel is BenchmarkSelect from GOMAXPROCS goroutines
// sharing the pool, as concurrent requests do.
func BenchmarkSelectParallel(b *testing.B) {
	for _, policy := range upstream.Policies {
		b.Run(policy, func(b *testing.B) {
			p := benchPool(b, policy)
			c := upstream.Class{MaxTokens: 256, PromptChars: 500}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					t := p.Next(c, nil)
					if !t.Upstream.Begin() {
						b.Error("Begin refused")
						return
					}
					t.Upstream.End(upstream.Success, time.Millisecond, nil)
				}
			})
		})
	}
}
