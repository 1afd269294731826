package federation

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/testkit/idptest"
)

// fakeClock is a settable clock; it starts at the real time so the IdP's
// tokens (stamped with the real time) are valid at first.
type fakeClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// corpOP starts the zitadel example OP with three service accounts: a
// reporting service in group "ml", an ops robot in "dsgate-admins", and
// one whose tokens are for another audience.
func corpOP(t *testing.T) *idptest.OP {
	return idptest.Start(t, idptest.Options{Services: []idptest.Service{
		{ID: "svc-reporting", Secret: "s1", Audience: "dsgate", Groups: []string{"ml"}},
		{ID: "svc-ops", Secret: "s2", Audience: "dsgate", Groups: []string{"staff", "dsgate-admins"}},
		{ID: "svc-other", Secret: "s3", Audience: "billing", Groups: []string{"ml"}},
		{ID: "svc-nobody", Secret: "s4", Audience: "dsgate"},
	}})
}

func corpOptions(op *idptest.OP, clock *fakeClock) IssuerOptions {
	return IssuerOptions{
		Name: "corp", Issuer: op.Issuer, Audiences: []string{"dsgate"}, Algorithms: []string{"RS256"},
		Mapping: Mapping{Rules: []Rule{
			{Claim: "groups", Value: "dsgate-admins", Role: "admin"},
			{Claim: "groups", Value: "ml", Role: "developer", Team: "ml", Models: []string{"deepseek-chat"}},
		}},
		UnknownKIDInterval: time.Minute, MaxKeyAge: 2 * time.Minute, Clock: clock.Now,
	}
}

func newFederation(t *testing.T, o ...IssuerOptions) *Federation {
	t.Helper()
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// Client-credentials tokens from a real IdP are accepted and mapped by
// their groups: a team member gets its role, team and models; the admin
// group grants admin; a caller no rule maps is refused (403) unless the
// issuer has a default role.
func TestServiceTokensMapToRoles(t *testing.T) {
	op := corpOP(t)
	clock := &fakeClock{}
	f := newFederation(t, corpOptions(op, clock))
	ctx := context.Background()

	tok := op.ServiceToken(t, "svc-reporting", "s1")
	if !f.Trusts(tok) {
		t.Fatal("token of a configured issuer not routed to federation")
	}
	p, err := f.AuthenticateExternal(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "corp:svc-reporting" || p.Kind != auth.KindExternal || p.Role != "developer" || p.Team != "ml" ||
		p.Issuer != op.Issuer || len(p.Models) != 1 || p.Models[0] != "deepseek-chat" || p.LimitKey() != "external:corp:svc-reporting" {
		t.Fatalf("principal = %+v", p)
	}

	p, err = f.AuthenticateExternal(ctx, op.ServiceToken(t, "svc-ops", "s2"))
	if err != nil || p.Role != "admin" || p.Team != "" {
		t.Fatalf("admin group: %+v, %v", p, err)
	}

	_, err = f.AuthenticateExternal(ctx, op.ServiceToken(t, "svc-nobody", "s4"))
	if !errors.Is(err, auth.ErrForbidden) || !strings.Contains(err.Error(), `no claim mapping for sub "svc-nobody"`) {
		t.Fatalf("unmapped caller: %v", err)
	}
	o := corpOptions(op, clock)
	o.Mapping.DefaultRole = "analyst"
	o.HasRole = func(r string) bool { return r == "analyst" }
	g := newFederation(t, o)
	if p, err := g.AuthenticateExternal(ctx, op.ServiceToken(t, "svc-nobody", "s4")); err != nil || p.Role != "analyst" {
		t.Fatalf("default role: %+v, %v", p, err)
	}
	// A rule naming a role the policy does not have refuses, not escalates.
	if _, err := g.AuthenticateExternal(ctx, op.ServiceToken(t, "svc-ops", "s2")); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("unknown mapped role: %v", err)
	}
}

// Tokens that must not pass: another audience, an issuer not configured,
// expired, alg none, HS256 keyed with the IdP's public key, a kid the IdP
// never published.
func TestRefusedTokens(t *testing.T) {
	op := corpOP(t)
	other := corpOP(t) // a second, untrusted IdP
	clock := &fakeClock{}
	f := newFederation(t, corpOptions(op, clock))
	ctx := context.Background()
	good := op.ServiceToken(t, "svc-reporting", "s1")
	if _, err := f.AuthenticateExternal(ctx, good); err != nil {
		t.Fatal(err)
	}
	pub, kid := op.PublicKey()
	claims := payload(t, good)

	tests := []struct {
		name, token, want string
	}{
		{"wrong audience", op.ServiceToken(t, "svc-other", "s3"), "token has invalid audience"},
		{"wrong issuer", other.ServiceToken(t, "svc-reporting", "s1"), "untrusted issuer"},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, claims), "signing method none is invalid"},
		{"HS256 with the public key", sign(t, jwt.SigningMethodHS256, pemOf(t, pub), kid, claims), "signing method HS256 is invalid"},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, newRSA(t), "never-published", claims), `could not read JWK from storage`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.AuthenticateExternal(ctx, tt.token)
			if !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want 401 containing %q", err, tt.want)
			}
		})
	}
	// The same issuer's token found in the other IdP's JWKS is still refused:
	// the untrusted IdP is never asked.
	if other.KeyFetches.Load() != 0 {
		t.Fatalf("the untrusted IdP's keys were fetched %d times", other.KeyFetches.Load())
	}

	clock.Advance(10 * time.Minute) // past exp (5 min) + skew, within nothing else
	_, err := f.AuthenticateExternal(ctx, good)
	if !errors.Is(err, auth.ErrUnauthenticated) && !errors.Is(err, auth.ErrIssuerUnavailable) {
		t.Fatalf("expired: %v", err)
	}
}

// Expiry alone (keys fresh): refused as expired, with the clock skew
// honoured.
func TestExpiredToken(t *testing.T) {
	op := corpOP(t)
	clock := &fakeClock{}
	o := corpOptions(op, clock)
	o.MaxKeyAge = time.Hour
	o.ClockSkew = time.Minute
	f := newFederation(t, o)
	ctx := context.Background()
	tok := op.ServiceToken(t, "svc-reporting", "s1")
	clock.Advance(5*time.Minute + 30*time.Second) // past exp, within the skew
	if _, err := f.AuthenticateExternal(ctx, tok); err != nil {
		t.Fatalf("within skew: %v", err)
	}
	clock.Advance(time.Minute)
	if _, err := f.AuthenticateExternal(ctx, tok); !errors.Is(err, auth.ErrUnauthenticated) || !strings.Contains(err.Error(), "token is expired") {
		t.Fatalf("expired: %v", err)
	}
}

// A flood of tokens with made-up kids refreshes the IdP's keys at most
// once per UnknownKIDInterval, and never waits for the limiter.
func TestUnknownKIDRefreshIsRateLimited(t *testing.T) {
	op := corpOP(t)
	clock := &fakeClock{}
	f := newFederation(t, corpOptions(op, clock))
	ctx := context.Background()
	if _, err := f.AuthenticateExternal(ctx, op.ServiceToken(t, "svc-reporting", "s1")); err != nil {
		t.Fatal(err)
	}
	claims := payload(t, op.ServiceToken(t, "svc-reporting", "s1"))
	key := newRSA(t)
	before := op.KeyFetches.Load()
	for i := range 50 {
		tok := sign(t, jwt.SigningMethodRS256, key, "made-up-"+string(rune('a'+i%26)), claims)
		if _, err := f.AuthenticateExternal(ctx, tok); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatalf("made-up kid %d: %v", i, err)
		}
	}
	if n := op.KeyFetches.Load() - before; n > 1 {
		t.Fatalf("%d JWKS fetches for 50 unknown kids, want at most 1", n)
	}
}

// The IdP rotates its signing key: the first token with the new kid makes
// dsgate refresh, without a restart; tokens with the old kid keep working
// while the IdP still publishes it.
func TestKeyRotationPickedUp(t *testing.T) {
	op := corpOP(t)
	clock := &fakeClock{}
	f := newFederation(t, corpOptions(op, clock))
	ctx := context.Background()
	old := op.ServiceToken(t, "svc-reporting", "s1")
	if _, err := f.AuthenticateExternal(ctx, old); err != nil {
		t.Fatal(err)
	}
	newKID := op.RotateKey()
	tok := op.ServiceToken(t, "svc-reporting", "s1")
	if h := header(t, tok); h["kid"] != newKID {
		t.Fatalf("IdP still signs with %v", h["kid"])
	}
	if _, err := f.AuthenticateExternal(ctx, tok); err != nil {
		t.Fatalf("token with the rotated key: %v", err)
	}
	if _, err := f.AuthenticateExternal(ctx, old); err != nil {
		t.Fatalf("token with the previous key: %v", err)
	}
}

// The IdP goes down: the cached keys keep verifying until MaxKeyAge after
// the last successful fetch, then tokens are refused with a 503 naming the
// issuer; when the IdP is back, the next attempt recovers.
func TestIdPDownKeysBounded(t *testing.T) {
	op := corpOP(t)
	clock := &fakeClock{}
	f := newFederation(t, corpOptions(op, clock)) // MaxKeyAge 2m
	ctx := context.Background()
	tok := op.ServiceToken(t, "svc-reporting", "s1")
	if _, err := f.AuthenticateExternal(ctx, tok); err != nil {
		t.Fatal(err)
	}
	op.SetDown(true)
	clock.Advance(90 * time.Second)
	if _, err := f.AuthenticateExternal(ctx, tok); err != nil {
		t.Fatalf("within max_key_age with the IdP down: %v", err)
	}
	clock.Advance(time.Minute) // 2m30s since the last fetch
	_, err := f.AuthenticateExternal(ctx, tok)
	if !errors.Is(err, auth.ErrIssuerUnavailable) || errors.Is(err, auth.ErrUnauthenticated) ||
		!strings.Contains(err.Error(), "issuer corp: signing keys last fetched 2m30s ago, longer than max_key_age 2m0s") {
		t.Fatalf("past max_key_age: %v", err)
	}
	op.SetDown(false)
	clock.Advance(time.Minute) // past the retry gap
	if _, err := f.AuthenticateExternal(ctx, tok); err != nil {
		t.Fatalf("IdP back: %v", err)
	}
}

// An IdP that is down when dsgate starts does not stop it: tokens are
// refused with a 503 until the keys can be fetched.
func TestIdPDownAtStart(t *testing.T) {
	op := corpOP(t)
	tok := op.ServiceToken(t, "svc-reporting", "s1")
	op.SetDown(true)
	clock := &fakeClock{}
	f := newFederation(t, corpOptions(op, clock))
	_, err := f.AuthenticateExternal(context.Background(), tok)
	if !errors.Is(err, auth.ErrIssuerUnavailable) || !strings.Contains(err.Error(), "issuer corp: signing keys could not be fetched") {
		t.Fatalf("IdP down at start: %v", err)
	}
}

func TestOptionsRefuseUnsafeAlgorithms(t *testing.T) {
	for _, alg := range []string{"none", "HS256", "HS512", "rs256"} {
		_, err := NewIssuer(IssuerOptions{Name: "x", Issuer: "https://idp", Audiences: []string{"a"}, Algorithms: []string{alg}})
		if err == nil {
			t.Errorf("algorithm %q accepted", alg)
		}
	}
	if _, err := New([]IssuerOptions{{Name: "a", Issuer: "https://idp", Audiences: []string{"x"}}, {Name: "b", Issuer: "https://idp", Audiences: []string{"y"}}}); err == nil {
		t.Error("two issuers with one iss accepted")
	}
}

func TestClaimLookup(t *testing.T) {
	claims := map[string]any{
		"kubernetes.io": map[string]any{"namespace": "ml", "serviceaccount": map[string]any{"name": "batch"}},
		"realm_access":  map[string]any{"roles": []any{"a", "b"}},
		"email":         "x@y",
	}
	tests := []struct {
		path string
		want any
	}{
		{"kubernetes.io.namespace", "ml"},
		{"kubernetes.io.serviceaccount.name", "batch"},
		{"email", "x@y"},
		{"realm_access.nothing", nil},
		{"missing", nil},
	}
	for _, tt := range tests {
		if got := lookup(claims, tt.path); got != tt.want {
			t.Errorf("lookup(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
	if !matches(lookup(claims, "realm_access.roles"), "b") || matches(lookup(claims, "realm_access.roles"), "c") {
		t.Error("list claim match")
	}
}

func payload(t *testing.T, raw string) jwt.MapClaims {
	t.Helper()
	c := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(raw, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func header(t *testing.T, raw string) map[string]any {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(raw, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Header
}

func sign(t *testing.T, m jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemOf(t *testing.T, pub *rsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// With CacheTTL a token verified moments ago is accepted without another
// signature check, until the TTL ends; a refused token is never cached.
func TestVerifiedCache(t *testing.T) {
	op := corpOP(t)
	clock := &fakeClock{}
	o := corpOptions(op, clock)
	o.CacheTTL = time.Second
	f := newFederation(t, o)
	ctx := context.Background()
	tok := op.ServiceToken(t, "svc-reporting", "s1")
	p1, err := f.AuthenticateExternal(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Close() // no keys from now on: only the cache can answer
	if p2, err := f.AuthenticateExternal(ctx, tok); err != nil || p2 != p1 {
		t.Fatalf("within the TTL: %v %v", p2, err)
	}
	if _, err := f.AuthenticateExternal(ctx, op.ServiceToken(t, "svc-ops", "s2")); err == nil {
		t.Fatal("an unverified token passed")
	}
	clock.Advance(time.Second)
	if _, err := f.AuthenticateExternal(ctx, tok); err == nil {
		t.Fatal("the cache outlived its TTL")
	}
}
