package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"

	"github.com/dsgate/dsgate/internal/testkit"
)

func decode(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q: %v", rec.Body.String(), err)
	}
	return m
}

func (e *env) token(t *testing.T, id, secret string) string {
	t.Helper()
	rec := e.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, id, secret)
	if rec.Code != http.StatusOK {
		t.Fatalf("token: %d %s", rec.Code, rec.Body)
	}
	return decode(t, rec)["access_token"].(string)
}

func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t)
	secret := e.addClient(t, "svc-search", "developer", "chat", "batch")
	tests := []struct {
		name       string
		form       url.Values
		basic      bool
		secret     string
		contentTyp string
		wantStatus int
		wantError  string
	}{
		{name: "basic", form: url.Values{"grant_type": {"client_credentials"}}, basic: true, secret: secret, wantStatus: 200},
		{name: "post", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc-search"}, "client_secret": {secret}}, wantStatus: 200},
		{name: "scope subset", form: url.Values{"grant_type": {"client_credentials"}, "scope": {"chat"}}, basic: true, secret: secret, wantStatus: 200},
		{name: "wrong secret basic", form: url.Values{"grant_type": {"client_credentials"}}, basic: true, secret: "nope", wantStatus: 401, wantError: "invalid_client"},
		{name: "wrong secret post", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc-search"}, "client_secret": {"nope"}}, wantStatus: 401, wantError: "invalid_client"},
		{name: "unknown client", form: url.Values{"grant_type": {"client_credentials"}, "client_id": {"ghost"}, "client_secret": {"x"}}, wantStatus: 401, wantError: "invalid_client"},
		{name: "no credentials", form: url.Values{"grant_type": {"client_credentials"}}, wantStatus: 401, wantError: "invalid_client"},
		{name: "two methods", form: url.Values{"grant_type": {"client_credentials"}, "client_secret": {secret}}, basic: true, secret: secret, wantStatus: 400, wantError: "invalid_request"},
		{name: "wrong grant", form: url.Values{"grant_type": {"password"}}, basic: true, secret: secret, wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "missing grant", form: url.Values{}, basic: true, secret: secret, wantStatus: 400, wantError: "invalid_request"},
		{name: "bad scope", form: url.Values{"grant_type": {"client_credentials"}, "scope": {"chat admin"}}, basic: true, secret: secret, wantStatus: 400, wantError: "invalid_scope"},
		{name: "json body", form: url.Values{"grant_type": {"client_credentials"}}, basic: true, secret: secret, contentTyp: "application/json", wantStatus: 400, wantError: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(tt.form.Encode()))
			ct := "application/x-www-form-urlencoded"
			if tt.contentTyp != "" {
				ct = tt.contentTyp
			}
			req.Header.Set("Content-Type", ct)
			if tt.basic {
				req.SetBasicAuth("svc-search", url.QueryEscape(tt.secret))
			}
			rec := httptest.NewRecorder()
			e.oauth.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if rec.Header().Get("Cache-Control") != "no-store" || rec.Header().Get("Pragma") != "no-cache" {
				t.Fatalf("missing no-store headers: %v", rec.Header())
			}
			body := decode(t, rec)
			if tt.wantError != "" {
				if body["error"] != tt.wantError {
					t.Fatalf("error = %v, want %s", body["error"], tt.wantError)
				}
				if tt.wantStatus == 401 && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic") {
					t.Fatalf("401 without WWW-Authenticate: %v", rec.Header())
				}
				if strings.Contains(rec.Body.String(), secret) {
					t.Fatal("secret echoed in error body")
				}
				return
			}
			if body["token_type"] != "Bearer" || body["expires_in"].(float64) != 3600 || body["refresh_token"] != nil {
				t.Fatalf("token response = %v", body)
			}
			p, err := e.verifier.AuthenticateToken(context.Background(), body["access_token"].(string))
			if err != nil {
				t.Fatalf("issued token rejected: %v", err)
			}
			if p.ID != "svc-search" || p.Kind != KindClient || p.Role != "developer" {
				t.Fatalf("principal = %+v", p)
			}
		})
	}
}

func TestIntrospectAndRevoke(t *testing.T) {
	e := newEnv(t)
	secret := e.addClient(t, "svc-a", "developer")
	otherSecret := e.addClient(t, "svc-b", "developer")
	tok := e.token(t, "svc-a", secret)

	adminSecret := e.addClient(t, "ops", "admin")

	// The token's own client and an admin-capable client see its claims.
	for _, who := range [][2]string{{"svc-a", secret}, {"ops", adminSecret}} {
		rec := e.post(t, "/oauth2/introspect", url.Values{"token": {tok}}, who[0], who[1])
		body := decode(t, rec)
		if rec.Code != 200 || body["active"] != true || body["client_id"] != "svc-a" || body["iss"] != testIssuer || body["jti"] == "" {
			t.Fatalf("introspect valid by %s: %d %v", who[0], rec.Code, body)
		}
	}
	// Another client learns nothing about it (trial #48: it got the claims).
	rec := e.post(t, "/oauth2/introspect", url.Values{"token": {tok}}, "svc-b", otherSecret)
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"active":false}` {
		t.Fatalf("introspect of svc-a's token by svc-b: %d %s", rec.Code, rec.Body)
	}
	for _, bad := range []string{"garbage", "a.b.c", tok + "x"} {
		rec = e.post(t, "/oauth2/introspect", url.Values{"token": {bad}}, "svc-b", otherSecret)
		if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"active":false}` {
			t.Fatalf("introspect %q: %d %s", bad, rec.Code, rec.Body)
		}
	}
	rec = e.post(t, "/oauth2/introspect", url.Values{"token": {tok}}, "svc-b", "wrong")
	if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("introspect with bad client auth: %d", rec.Code)
	}

	// Another client cannot revoke svc-a's token; the answer is still 200.
	if rec = e.post(t, "/oauth2/revoke", url.Values{"token": {tok}}, "svc-b", otherSecret); rec.Code != 200 {
		t.Fatalf("revoke by other client: %d", rec.Code)
	}
	if _, err := e.verifier.AuthenticateToken(context.Background(), tok); err != nil {
		t.Fatalf("token revoked by another client: %v", err)
	}
	if rec = e.post(t, "/oauth2/revoke", url.Values{"token": {"unknown-token"}}, "svc-a", secret); rec.Code != 200 {
		t.Fatalf("revoke unknown: %d", rec.Code)
	}
	if rec = e.post(t, "/oauth2/revoke", url.Values{"token": {tok}, "token_type_hint": {"access_token"}}, "svc-a", secret); rec.Code != 200 {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body)
	}
	if _, err := e.verifier.AuthenticateToken(context.Background(), tok); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked token accepted: %v", err)
	}
	rec = e.post(t, "/oauth2/introspect", url.Values{"token": {tok}}, "svc-a", secret)
	if strings.TrimSpace(rec.Body.String()) != `{"active":false}` {
		t.Fatalf("introspect revoked: %s", rec.Body)
	}
}

func TestMetadataAndJWKS(t *testing.T) {
	e := newEnv(t)
	rec := httptest.NewRecorder()
	e.oauth.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/oauth-authorization-server", nil))
	meta := decode(t, rec)
	if meta["issuer"] != testIssuer || meta["token_endpoint"] != testIssuer+"/oauth2/token" || meta["jwks_uri"] != testIssuer+"/.well-known/jwks.json" {
		t.Fatalf("metadata = %v", meta)
	}
	rec = httptest.NewRecorder()
	e.oauth.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	var set jwkSet
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks = %s (%v)", rec.Body, err)
	}
	k := set.Keys[0]
	if k.Kty != "EC" || k.Alg != "ES256" || k.Kid == "" || k.Crv != "P-256" {
		t.Fatalf("jwk = %+v", k)
	}
	if strings.Contains(rec.Body.String(), `"d"`) {
		t.Fatal("private key material in JWKS")
	}
	// The published set must parse with the library external verifiers use.
	ks, err := keyfunc.NewJWKSetJSON(rec.Body.Bytes())
	if err != nil {
		t.Fatalf("published set does not parse: %v", err)
	}
	if _, err := ks.Storage().KeyRead(context.Background(), k.Kid); err != nil {
		t.Fatalf("published key does not parse: %v", err)
	}
}

// Rotation: old tokens keep verifying, new tokens use the new kid, and a
// second replica (its own SigningKeys over the same store) verifies tokens
// signed with a key it has not loaded yet.
func TestRotationAcrossReplicas(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	secret := e.addClient(t, "svc", "developer")
	replica2, err := NewSigningKeys(ctx, SigningKeysOptions{Store: e.st, EncryptionKey: testEncKey, Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := NewTokenVerifier(TokenVerifierOptions{Issuer: testIssuer, Audience: testAudience, Keys: replica2,
		Clients: e.st, Revocations: e.rev, Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	old := e.token(t, "svc", secret)
	if err := e.keys.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	fresh := e.token(t, "svc", secret)
	if kidOf(t, old) == kidOf(t, fresh) {
		t.Fatal("rotation did not change kid")
	}
	for name, tok := range map[string]string{"old": old, "fresh": fresh} {
		if _, err := e.verifier.AuthenticateToken(ctx, tok); err != nil {
			t.Fatalf("replica 1, %s token: %v", name, err)
		}
		if _, err := v2.AuthenticateToken(ctx, tok); err != nil {
			t.Fatalf("replica 2, %s token: %v", name, err)
		}
	}
	// Once old tokens have expired, Maintain deletes the superseded key.
	e.clock.Advance(time.Hour + time.Minute)
	if err := e.keys.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	recs, _ := e.st.SigningKeys(ctx)
	if len(recs) != 1 || recs[0].KID != kidOf(t, fresh) {
		t.Fatalf("after expiry: %d keys", len(recs))
	}
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	var h struct{ Kid string }
	raw, err := b64(strings.Split(tok, ".")[0])
	if err != nil || json.Unmarshal(raw, &h) != nil {
		t.Fatalf("bad token header")
	}
	return h.Kid
}

// Revocation on one replica is seen by another after its next poll.
func TestRevocationVisibleOnOtherReplica(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replica2 := NewRevocationList(e.st, RevocationOptions{PollInterval: 100 * time.Millisecond})
	go func() { _ = replica2.Run(ctx) }()
	if err := e.rev.Revoke(ctx, "jti-1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the revocation on the other replica", func() bool {
		ok, err := replica2.Revoked(ctx, "jti-1")
		if err != nil {
			t.Fatal(err)
		}
		return ok
	})
}
