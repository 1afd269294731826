package auth

import (
	"context"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzAuthenticateToken feeds arbitrary and mutated tokens to the JWT
// verifier: it must never panic and never accept anything but an
// untouched token it issued.
func FuzzAuthenticateToken(f *testing.F) {
	e := newEnv(f)
	e.addClient(f, "svc", "developer")
	now := e.clock.Now()
	signer := e.keys.current()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, &AccessClaims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: testIssuer, Subject: "svc", Audience: jwt.ClaimStrings{testAudience},
		ExpiresAt: jwt.NewNumericDate(now.Add(3600e9)), IssuedAt: jwt.NewNumericDate(now), ID: "fuzz"}, ClientID: "svc"})
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = signer.rec.KID
	valid, err := tok.SignedString(signer.priv)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := e.verifier.AuthenticateToken(context.Background(), valid); err != nil {
		f.Fatalf("seed token rejected: %v", err)
	}
	f.Add(valid)
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := e.verifier.AuthenticateToken(context.Background(), s)
		if err == nil && s != valid {
			// A different string can still be the same token (base64
			// padding bits); it must then decode to the same claims.
			if !strings.HasPrefix(s, valid[:strings.LastIndexByte(valid, '.')]) || p.ID != "svc" {
				t.Fatalf("accepted a token it did not issue: %q", s)
			}
		}
	})
}
