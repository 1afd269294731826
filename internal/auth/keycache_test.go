package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/peer"

	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/store"
)

// TestKeyCacheBounded (issue 13 item 10): bearer strings with made-up key
// ids must not grow the cache past MaxEntries (it grew without bound while
// every entry was fresh, and each insert past the bound scanned the whole
// map under a global lock), repeated unknown ids are remembered briefly,
// and a key in use survives the flood.
func TestKeyCacheBounded(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	full, id, hash, _ := NewAPIKey()
	if err := e.st.CreateKey(ctx, store.Key{ID: id, Role: "analyst", Hash: hash, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	lookup := &countingLookup{KeyLookup: e.st}
	const max = 1000
	a := NewKeyAuthenticator(lookup, KeyAuthenticatorOptions{MaxEntries: max, CacheTTL: time.Minute,
		NegativeTTL: time.Second, Clock: e.clock.Now})
	for range 10 {
		if _, err := a.AuthenticateKey(ctx, full); err != nil {
			t.Fatal(err)
		}
	}
	const flood = 20000
	for i := range flood {
		if _, err := a.AuthenticateKey(ctx, fmt.Sprintf("dsg_madeup%07d_secret", i)); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("made-up id %d: %v", i, err)
		}
	}
	if n := keyCacheLen(a); n > max+max/10 {
		t.Fatalf("cache holds %d entries after %d made-up ids, bound %d", n, flood, max)
	}
	if n := lookup.calls.Load(); n != flood+1 {
		t.Fatalf("store reads = %d, want one per id (%d)", n, flood+1)
	}
	if _, err := a.AuthenticateKey(ctx, full); err != nil {
		t.Fatalf("key in use after the flood: %v", err)
	}

	// A repeated unknown id is read once per NegativeTTL.
	before := lookup.calls.Load()
	for range 100 {
		_, _ = a.AuthenticateKey(ctx, "dsg_repeated_secret")
	}
	e.clock.Advance(time.Second)
	_, _ = a.AuthenticateKey(ctx, "dsg_repeated_secret")
	if n := lookup.calls.Load() - before; n != 2 {
		t.Fatalf("repeated unknown id read %d times, want 2", n)
	}
}

// TestFailedAuthPerAddress: past the per-address failure limit, made-up
// credentials from that address cost no store reads and get a rate-limit
// error with a Retry-After; other addresses, and keys this address already
// proved, are unaffected.
func TestFailedAuthPerAddress(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	full, id, hash, _ := NewAPIKey()
	_ = e.st.CreateKey(ctx, store.Key{ID: id, Role: "analyst", Hash: hash, CreatedAt: e.clock.Now()})
	lookup := &countingLookup{KeyLookup: e.st}
	chain := Chain{
		Keys:     NewKeyAuthenticator(lookup, KeyAuthenticatorOptions{CacheTTL: time.Minute, Clock: e.clock.Now}),
		Tokens:   e.verifier,
		Failures: NewFailureLimiter(FailureLimiterOptions{PerMinute: 5, Clock: e.clock.Now}),
	}
	attacker := WithClientAddr(ctx, "203.0.113.7:4711")
	if _, err := chain.AuthenticateCredential(attacker, full); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := chain.AuthenticateCredential(attacker, fmt.Sprintf("dsg_bogus%d_x", i)); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	reads := lookup.calls.Load()
	for i := range 1000 {
		_, err := chain.AuthenticateCredential(attacker, fmt.Sprintf("dsg_more%d_x", i))
		var rl *ratelimit.Error
		if !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > time.Minute || rl.Dimension != FailedAuthDimension {
			t.Fatalf("over the limit: %v", err)
		}
	}
	if _, err := chain.AuthenticateCredential(attacker, "a.b.c"); err == nil {
		t.Fatal("token from a blocked address verified")
	}
	if n := lookup.calls.Load() - reads; n != 0 {
		t.Fatalf("blocked address caused %d store reads", n)
	}
	if _, err := chain.AuthenticateCredential(attacker, full); err != nil {
		t.Fatalf("cached key from the blocked address: %v", err)
	}
	// The same /64 is the same subscriber; another address is not.
	if _, err := chain.AuthenticateCredential(WithClientAddr(ctx, "[2001:db8::1]:1"), "dsg_v6a_x"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatal(err)
	}
	if _, err := chain.AuthenticateCredential(WithClientAddr(ctx, "198.51.100.1:1"), "dsg_other_x"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("other address: %v", err)
	}
	e.clock.Advance(time.Minute)
	if _, err := chain.AuthenticateCredential(attacker, "dsg_later_x"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("after the window: %v", err)
	}
}

func TestAddrKey(t *testing.T) {
	same := [][2]string{
		{"203.0.113.7:1", "203.0.113.7:2"},
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff::9]:2"},
		{"[::ffff:203.0.113.7]:1", "203.0.113.7:9"},
	}
	for _, p := range same {
		a, _ := addrKey(p[0])
		b, _ := addrKey(p[1])
		if a != b {
			t.Errorf("%s and %s differ: %v %v", p[0], p[1], a, b)
		}
	}
	if a, _ := addrKey("203.0.113.7:1"); a == must(addrKey("203.0.113.8:1")) {
		t.Error("neighbouring IPv4 addresses share a key")
	}
	if _, ok := addrKey("pipe"); ok {
		t.Error("non-IP address limited")
	}
}

func must[T any](v T, _ bool) T { return v }

// TestProvenKeyAfterTTL: a blocked address keeps using a key it proved,
// even once the cached record is stale (it is re-read), but a revoked one
// stops working.
func TestProvenKeyAfterTTL(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	full, id, hash, _ := NewAPIKey()
	_ = e.st.CreateKey(ctx, store.Key{ID: id, Role: "analyst", Hash: hash, CreatedAt: e.clock.Now()})
	chain := Chain{
		Keys:     NewKeyAuthenticator(e.st, KeyAuthenticatorOptions{Clock: e.clock.Now}),
		Failures: NewFailureLimiter(FailureLimiterOptions{PerMinute: 1, Clock: e.clock.Now}),
	}
	addr := WithClientAddr(ctx, "203.0.113.7:1")
	if _, err := chain.AuthenticateCredential(addr, full); err != nil {
		t.Fatal(err)
	}
	_, _ = chain.AuthenticateCredential(addr, "dsg_bogus_x")
	e.clock.Advance(30 * time.Second)
	if _, err := chain.AuthenticateCredential(addr, full); err != nil {
		t.Fatalf("proven key, stale record: %v", err)
	}
	if _, err := chain.AuthenticateCredential(addr, full[:len(full)-1]+"x"); err == nil {
		t.Fatal("wrong secret accepted")
	}
	_ = e.st.RevokeKey(ctx, id, e.clock.Now())
	e.clock.Advance(2 * time.Second)
	if _, err := chain.AuthenticateCredential(addr, full); err == nil {
		t.Fatal("revoked key accepted from a blocked address")
	}
}

// TestClientAddrFromGRPCPeer: a gRPC call's address comes from its peer,
// so the failure limit holds over gRPC without the transport's help.
func TestClientAddrFromGRPCPeer(t *testing.T) {
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 5}})
	if got := ClientAddr(ctx); got != "203.0.113.9:5" {
		t.Fatalf("ClientAddr = %q", got)
	}
	if got := ClientAddr(WithClientAddr(ctx, "198.51.100.1:1")); got != "198.51.100.1:1" {
		t.Fatalf("explicit address = %q", got)
	}
}

func keyCacheLen(a *KeyAuthenticator) int {
	a.cache.CleanUp()
	return a.cache.EstimatedSize()
}
