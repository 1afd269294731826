// Package idptest starts a real OpenID Provider for tests: the example OP of
// zitadel/oidc (an OpenID-certified Go library), in process on 127.0.0.1,
// with its login UI, discovery, JWKS, token and end-session endpoints. The
// example's in-memory storage is used as is, with a few methods replaced:
// service accounts (client credentials) get JWT access tokens for a chosen
// audience with a "groups" claim, users get a "groups" claim too, and the
// signing key can be rotated. The OP sits behind a faultproxy, so a test can
// take it down (connection refused) and bring it back.
//
// Only tests import this package.
package idptest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/dsgate/dsgate/internal/testkit/faultproxy"
)

// Service is a service account that gets tokens by client credentials.
type Service struct {
	ID, Secret string
	Audience   string   // aud of its access tokens
	Groups     []string // its "groups" claim
}

// WebClient is a confidential client for the authorization code flow.
type WebClient struct {
	ID, Secret   string
	RedirectURIs []string
}

// Options configure an OP.
type Options struct {
	Services   []Service
	WebClients []WebClient
	// UserGroups are the "groups" claims of the example's users, by
	// username ("test-user@127.0.0.1" is an admin in the example, password
	// "verysecure"; "test-user2" is not).
	UserGroups map[string][]string
}

// OP is a running OpenID Provider.
type OP struct {
	// Issuer is the issuer URL, "http://127.0.0.1:<port>" (no slash).
	Issuer string
	st     *Storage
	proxy  *faultproxy.Proxy
	// KeyFetches counts requests to the JWKS endpoint.
	KeyFetches atomic.Int64
}

// Start starts an OP; it stops when the test ends.
func Start(t testing.TB, o Options) *OP {
	t.Helper()
	var handler atomic.Pointer[http.Handler]
	p := &OP{}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/keys" {
			p.KeyFetches.Add(1)
		}
		(*handler.Load()).ServeHTTP(w, r)
	}))
	t.Cleanup(backend.Close)
	p.proxy = faultproxy.Start(t, strings.TrimPrefix(backend.URL, "http://"))
	p.Issuer = "http://" + p.proxy.Addr()

	users := storage.NewUserStore(p.Issuer)
	clients := map[string]*storage.Client{}
	for _, c := range o.WebClients {
		clients[c.ID] = storage.WebClient(c.ID, c.Secret, c.RedirectURIs...)
	}
	p.st = &Storage{Storage: storage.NewStorageWithClients(users, clients), services: map[string]Service{}, userGroups: map[string][]string{}}
	for _, s := range o.Services {
		p.st.services[s.ID] = s
	}
	for name, g := range o.UserGroups {
		if u := users.GetUserByUsername(name); u != nil {
			p.st.userGroups[u.ID] = g
		}
	}
	p.st.RotateKey()
	h := http.Handler(exampleop.SetupServer(p.Issuer, p.st, nil, false))
	handler.Store(&h)
	return p
}

// SetDown takes the OP off the network (true: connections refused) or
// brings it back.
func (p *OP) SetDown(down bool) {
	if down {
		p.proxy.Set(faultproxy.Down)
	} else {
		p.proxy.Set(faultproxy.Up)
	}
}

// RotateKey makes a new signing key current; the old one stays in the
// JWKS (as IdPs keep it while its tokens live). It returns the new kid.
func (p *OP) RotateKey() string { return p.st.RotateKey() }

// PublicKey returns the current signing key's public half and kid.
func (p *OP) PublicKey() (*rsa.PublicKey, string) {
	p.st.mu.Lock()
	defer p.st.mu.Unlock()
	k := p.st.keys[0]
	return &k.key.PublicKey, k.id
}

// ServiceToken gets an access token for a service by the client
// credentials grant at the OP's token endpoint.
func (p *OP) ServiceToken(t testing.TB, id, secret string) string {
	t.Helper()
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: p.Issuer + "/oauth/token"}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatalf("client credentials token for %s: %v", id, err)
	}
	return tok.AccessToken
}

// Storage is the example OP's storage with service accounts, groups and
// key rotation of ours.
type Storage struct {
	*storage.Storage
	mu         sync.Mutex
	keys       []*signingKey // current first
	services   map[string]Service
	userGroups map[string][]string
}

// RotateKey implements OP.RotateKey.
func (s *Storage) RotateKey() string {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	k := &signingKey{id: uuid.NewString(), key: key}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append([]*signingKey{k}, s.keys...)
	return k.id
}

// SigningKey implements op.Storage: the current key.
func (s *Storage) SigningKey(context.Context) (op.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[0], nil
}

// SignatureAlgorithms implements op.Storage.
func (s *Storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet implements op.Storage: every key not dropped.
func (s *Storage) KeySet(context.Context) ([]op.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]op.Key, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, publicKey{k})
	}
	return out, nil
}

// ClientCredentials implements op.ClientCredentialsStorage.
func (s *Storage) ClientCredentials(_ context.Context, id, secret string) (op.Client, error) {
	svc, ok := s.services[id]
	if !ok || svc.Secret != secret {
		return nil, oidc.ErrInvalidClient().WithDescription("wrong service account or secret")
	}
	return jwtClient{storage.WebClient(id, secret)}, nil
}

// ClientCredentialsTokenRequest implements op.ClientCredentialsStorage.
func (s *Storage) ClientCredentialsTokenRequest(_ context.Context, id string, scopes []string) (op.TokenRequest, error) {
	svc, ok := s.services[id]
	if !ok {
		return nil, oidc.ErrInvalidClient()
	}
	return &oidc.JWTTokenRequest{Subject: id, Audience: []string{svc.Audience}, Scopes: scopes}, nil
}

// GetPrivateClaimsFromScopes implements op.Storage: the groups of a
// service account in its access tokens.
func (s *Storage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	claims, err := s.Storage.GetPrivateClaimsFromScopes(ctx, userID, clientID, scopes)
	if svc, ok := s.services[userID]; ok && len(svc.Groups) > 0 {
		if claims == nil {
			claims = map[string]any{}
		}
		claims["groups"] = svc.Groups
	}
	return claims, err
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: the
// example's claims plus the user's groups, in ID tokens.
func (s *Storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, req, scopes); err != nil {
		return err
	}
	if g, ok := s.userGroups[req.GetSubject()]; ok {
		ui.AppendClaims("groups", g)
	}
	return nil
}

// jwtClient is a service account whose access tokens are JWTs.
type jwtClient struct{ *storage.Client }

func (jwtClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

func (jwtClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.key }
func (k *signingKey) ID() string                                  { return k.id }

type publicKey struct{ k *signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }
