package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/store"
)

type countingLookup struct {
	KeyLookup
	calls atomic.Int64
}

func (c *countingLookup) Key(ctx context.Context, id string) (store.Key, error) {
	c.calls.Add(1)
	return c.KeyLookup.Key(ctx, id)
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	full, id, hash, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateKey(ctx, store.Key{ID: id, Name: "ci", Role: "developer", Hash: hash, RPM: 5,
		CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	lookup := &countingLookup{KeyLookup: e.st}
	a := NewKeyAuthenticator(lookup, KeyAuthenticatorOptions{CacheTTL: time.Second, Clock: e.clock.Now})

	for _, hdr := range []string{"Authorization", "X-Api-Key"} {
		req := httptest.NewRequest(http.MethodGet, "/v1/models", nil)
		val := full
		if hdr == "Authorization" {
			val = "Bearer " + full
		}
		req.Header.Set(hdr, val)
		p, err := a.Authenticate(ctx, req)
		if err != nil {
			t.Fatalf("%s: %v", hdr, err)
		}
		if p.ID != id || p.Kind != KindKey || p.Role != "developer" || p.RPM != 5 || p.LimitKey() != "key:"+id {
			t.Fatalf("principal = %+v", p)
		}
	}
	// Concurrent hits share the cache: one store read in total.
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.AuthenticateKey(ctx, full); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := lookup.calls.Load(); n != 1 {
		t.Fatalf("store read %d times, want 1", n)
	}

	bad := []string{full + "x", full[:len(full)-1], KeyPrefix + id + "_", "dsg_unknownid_secret", "sk-openai", KeyPrefix}
	for _, k := range bad {
		if _, err := a.AuthenticateKey(ctx, k); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("key %q: got %v, want ErrUnauthenticated", k, err)
		}
	}

	// Revocation applies once the cache entry is older than CacheTTL.
	if err := e.st.RevokeKey(ctx, id, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if _, err := a.AuthenticateKey(ctx, full); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked key: %v", err)
	}
}

func TestAPIKeyExpiry(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	full, id, hash, _ := NewAPIKey()
	_ = e.st.CreateKey(ctx, store.Key{ID: id, Role: "analyst", Hash: hash, CreatedAt: e.clock.Now(), ExpiresAt: e.clock.Now().Add(time.Minute)})
	a := NewKeyAuthenticator(e.st, KeyAuthenticatorOptions{Clock: e.clock.Now})
	if _, err := a.AuthenticateKey(ctx, full); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	if _, err := a.AuthenticateKey(ctx, full); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("expired key: %v", err)
	}
}

func TestMalformedHeaders(t *testing.T) {
	tests := []struct {
		name    string
		headers map[string][]string
		want    error
	}{
		{"none", nil, ErrNoCredentials},
		{"basic scheme", map[string][]string{"Authorization": {"Basic dXNlcjpwYXNz"}}, ErrMalformed},
		{"bearer without token", map[string][]string{"Authorization": {"Bearer"}}, ErrMalformed},
		{"bearer blank", map[string][]string{"Authorization": {"Bearer   "}}, ErrMalformed},
		{"token with space", map[string][]string{"Authorization": {"Bearer a b"}}, ErrMalformed},
		{"two authorization headers", map[string][]string{"Authorization": {"Bearer a", "Bearer b"}}, ErrMalformed},
		{"empty x-api-key", map[string][]string{"X-Api-Key": {""}}, ErrMalformed},
		{"disagreeing headers", map[string][]string{"Authorization": {"Bearer a"}, "X-Api-Key": {"b"}}, ErrMalformed},
		{"agreeing headers", map[string][]string{"Authorization": {"Bearer a"}, "X-Api-Key": {"a"}}, nil},
		{"lowercase scheme", map[string][]string{"Authorization": {"bearer a"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			for k, vs := range tt.headers {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			_, err := Credential(req)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want != nil && !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("%v does not wrap ErrUnauthenticated", err)
			}
		})
	}
}

func TestChain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	secret := e.addClient(t, "svc", "developer")
	full, id, hash, _ := NewAPIKey()
	_ = e.st.CreateKey(ctx, store.Key{ID: id, Role: "analyst", Hash: hash, CreatedAt: e.clock.Now()})
	chain := Chain{Keys: NewKeyAuthenticator(e.st, KeyAuthenticatorOptions{Clock: e.clock.Now}), Tokens: e.verifier}
	for cred, want := range map[string]Kind{full: KindKey, e.token(t, "svc", secret): KindClient} {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
		req.Header.Set("Authorization", "Bearer "+cred)
		p, err := chain.Authenticate(ctx, req)
		if err != nil || p.Kind != want {
			t.Fatalf("kind %s: %+v %v", want, p, err)
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.Header.Set("Authorization", "Bearer sk-something")
	if _, err := chain.Authenticate(ctx, req); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("unrecognized credential: %v", err)
	}
}

func TestSecretHash(t *testing.T) {
	h, err := HashSecret("s3cret", cheapArgon)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifySecret(h, "s3cret"); !ok || err != nil {
		t.Fatalf("right secret: %v %v", ok, err)
	}
	if ok, _ := VerifySecret(h, "s3creT"); ok {
		t.Fatal("wrong secret accepted")
	}
	if _, err := VerifySecret("$2a$10$bcrypt", "x"); err == nil {
		t.Fatal("foreign hash format accepted")
	}
}
