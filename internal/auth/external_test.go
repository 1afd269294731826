package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// A company IdP found by OIDC discovery mints EdDSA tokens that dsgate
// accepts, taking the role from the "roles" claim.
func TestExternalIssuer(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var idp *httptest.Server
	idp = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": idp.URL, "jwks_uri": idp.URL + "/keys"})
		case "/keys":
			_ = json.NewEncoder(w).Encode(jwkSet{Keys: []jwk{{Kty: "OKP", Crv: "Ed25519", Kid: "idp-1", Use: "sig", X: b64enc(pub)}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer idp.Close()
	ctx := context.Background()
	jwksURL, err := DiscoverJWKSURL(ctx, idp.Client(), idp.URL)
	if err != nil {
		t.Fatal(err)
	}
	pol, _ := NewPolicy(nil)
	e := newEnv(t)
	v, err := NewTokenVerifier(TokenVerifierOptions{Issuer: testIssuer, Audience: testAudience, Keys: e.keys,
		Clients: e.st, Revocations: e.rev, External: []ExternalIssuer{{Issuer: idp.URL, Audience: "dsgate",
			Keys: NewRemoteJWKS(jwksURL, RemoteJWKSOptions{HTTPClient: idp.Client()}), HasRole: pol.HasRole}}})
	if err != nil {
		t.Fatal(err)
	}
	mint := func(roles any, kid string) string {
		now := time.Now()
		c := jwt.MapClaims{"iss": idp.URL, "sub": "svc-reporting", "aud": "dsgate", "exp": now.Add(time.Hour).Unix(),
			"iat": now.Unix(), "jti": "x1", "client_id": "svc-reporting", "roles": roles}
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
		tok.Header["typ"] = "at+jwt"
		tok.Header["kid"] = kid
		s, err := tok.SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	p, err := v.AuthenticateToken(ctx, mint([]string{"unknown", "analyst"}, "idp-1"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Role != "analyst" || p.ID != "svc-reporting" || p.Issuer != idp.URL {
		t.Fatalf("principal = %+v", p)
	}
	if _, err := v.AuthenticateToken(ctx, mint([]string{"wizard"}, "idp-1")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("no known role: %v", err)
	}
	if _, err := v.AuthenticateToken(ctx, mint("analyst", "idp-2")); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("unknown IdP kid: %v", err)
	}
}
