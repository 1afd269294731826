package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestJWTAttacks feeds the verifier tokens that must all be rejected with
// ErrUnauthenticated, next to one valid token.
func TestJWTAttacks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.addClient(t, "svc", "developer")
	e.addClient(t, "gone", "developer")
	if err := e.st.RevokeClient(ctx, "gone", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	signer := e.keys.current()
	kid := signer.rec.KID
	now := e.clock.Now()

	claims := func(mut func(*AccessClaims)) *AccessClaims {
		c := &AccessClaims{RegisteredClaims: jwt.RegisteredClaims{
			Issuer: testIssuer, Subject: "svc", Audience: jwt.ClaimStrings{testAudience},
			ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)), IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), ID: "jti-" + t.Name()}, ClientID: "svc"}
		if mut != nil {
			mut(c)
		}
		return c
	}
	sign := func(m jwt.SigningMethod, key any, c jwt.Claims, hdr map[string]any) string {
		tok := jwt.NewWithClaims(m, c)
		tok.Header["typ"] = "at+jwt"
		tok.Header["kid"] = kid
		for k, v := range hdr {
			if v == nil {
				delete(tok.Header, k)
			} else {
				tok.Header[k] = v
			}
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatalf("signing test token: %v", err)
		}
		return s
	}
	es := func(c *AccessClaims, hdr map[string]any) string {
		return sign(jwt.SigningMethodES256, signer.priv, c, hdr)
	}

	pubDER, _ := x509.MarshalPKIXPublicKey(&signer.priv.PublicKey)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	valid := es(claims(nil), nil)
	if err := e.rev.Revoke(ctx, "jti-revoked", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token string
	}{
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil), nil)},
		{"HS256 keyed with public key DER", sign(jwt.SigningMethodHS256, pubDER, claims(nil), nil)},
		{"HS256 keyed with JWKS", sign(jwt.SigningMethodHS256, e.keys.JWKS(), claims(nil), nil)},
		{"RS256 by attacker with our kid", sign(jwt.SigningMethodRS256, otherRSA, claims(nil), nil)},
		{"ES256 by attacker with our kid", sign(jwt.SigningMethodES256, otherEC, claims(nil), nil)},
		{"expired", es(claims(func(c *AccessClaims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-2 * time.Minute)) }), nil)},
		{"no exp", es(claims(func(c *AccessClaims) { c.ExpiresAt = nil }), nil)},
		{"not yet valid", es(claims(func(c *AccessClaims) { c.NotBefore = jwt.NewNumericDate(now.Add(5 * time.Minute)) }), nil)},
		{"issued in the future", es(claims(func(c *AccessClaims) { c.IssuedAt = jwt.NewNumericDate(now.Add(5 * time.Minute)) }), nil)},
		{"wrong aud", es(claims(func(c *AccessClaims) { c.Audience = jwt.ClaimStrings{"https://other"} }), nil)},
		{"no aud", es(claims(func(c *AccessClaims) { c.Audience = nil }), nil)},
		{"wrong iss", es(claims(func(c *AccessClaims) { c.Issuer = "https://evil.example.com" }), nil)},
		{"unknown kid", es(claims(nil), map[string]any{"kid": "nope"})},
		{"no kid", es(claims(nil), map[string]any{"kid": nil})},
		{"typ JWT (id token confusion)", es(claims(nil), map[string]any{"typ": "JWT"})},
		{"no typ", es(claims(nil), map[string]any{"typ": nil})},
		{"revoked", es(claims(func(c *AccessClaims) { c.ID = "jti-revoked" }), nil)},
		{"no jti", es(claims(func(c *AccessClaims) { c.ID = "" }), nil)},
		{"unknown client", es(claims(func(c *AccessClaims) { c.ClientID, c.Subject = "ghost", "ghost" }), nil)},
		{"revoked client", es(claims(func(c *AccessClaims) { c.ClientID, c.Subject = "gone", "gone" }), nil)},
		{"tampered payload", tamper(valid)},
		{"garbage", "not.a.jwt"},
		{"empty signature", strings.Join(strings.Split(valid, ".")[:2], ".") + "."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := e.verifier.AuthenticateToken(ctx, tt.token)
			if !errors.Is(err, ErrUnauthenticated) || p != nil {
				t.Fatalf("accepted or wrong error: principal=%v err=%v", p, err)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		if _, err := e.verifier.AuthenticateToken(ctx, valid); err != nil {
			t.Fatalf("valid token rejected: %v", err)
		}
		withinLeeway := es(claims(func(c *AccessClaims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-10 * time.Second)) }), nil)
		if _, err := e.verifier.AuthenticateToken(ctx, withinLeeway); err != nil {
			t.Fatalf("token expired within leeway rejected: %v", err)
		}
		appTyp := es(claims(nil), map[string]any{"typ": "application/at+jwt"})
		if _, err := e.verifier.AuthenticateToken(ctx, appTyp); err != nil {
			t.Fatalf("typ application/at+jwt rejected: %v", err)
		}
	})
}

// tamper changes the payload's subject without re-signing.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	raw, _ := b64(parts[1])
	raw = []byte(strings.Replace(string(raw), `"svc"`, `"adm"`, 1))
	parts[1] = b64enc(raw)
	return strings.Join(parts, ".")
}
