package auth

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now().UTC().Truncate(time.Second)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

const (
	testIssuer   = "https://gw.example.com"
	testAudience = "https://gw.example.com/v1"
)

var testEncKey = []byte("0123456789abcdef0123456789abcdef")

// cheapArgon keeps tests fast; production uses DefaultArgon2.
var cheapArgon = Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}

type env struct {
	st       store.Store
	clock    *fakeClock
	keys     *SigningKeys
	rev      *RevocationList
	verifier *TokenVerifier
	oauth    *OAuthServer
}

func newEnv(t testing.TB) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{st: storetest.OpenSQLite(t), clock: newFakeClock()}
	var err error
	e.keys, err = NewSigningKeys(ctx, SigningKeysOptions{Store: e.st, EncryptionKey: testEncKey, Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.rev = NewRevocationList(e.st, RevocationOptions{Clock: e.clock.Now})
	if err := e.rev.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	e.verifier, err = NewTokenVerifier(TokenVerifierOptions{Issuer: testIssuer, Audience: testAudience,
		Keys: e.keys, Clients: e.st, Revocations: e.rev, Clock: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	pol, err := NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	e.oauth, err = NewOAuthServer(OAuthServerOptions{Issuer: testIssuer, Audience: testAudience, Clients: e.st,
		Keys: e.keys, Verifier: e.verifier, Revoker: e.rev, Clock: e.clock.Now, Policy: func() *Policy { return pol }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// addClient stores a client and returns its secret.
func (e *env) addClient(t testing.TB, id, role string, scopes ...string) string {
	t.Helper()
	secret, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	h, err := HashSecret(secret, cheapArgon)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateClient(context.Background(), store.Client{ID: id, Name: id, Role: role, SecretHash: h,
		Scopes: scopes, CreatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	return secret
}

// post sends a form to the OAuth server; basic is "id:secret" or empty.
func (e *env) post(t *testing.T, path string, form url.Values, basicID, basicSecret string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	rec := httptest.NewRecorder()
	e.oauth.ServeHTTP(rec, req)
	return rec
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func b64enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
