package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dsgate/dsgate/internal/store"
)

// AllowedAlgorithms are the only JWS algorithms accepted: asymmetric ones,
// so "none" and HMAC keyed with a public key (alg confusion) are rejected.
var AllowedAlgorithms = []string{"ES256", "RS256", "EdDSA"}

// AccessClaims are the claims of an RFC 9068 JWT access token.
type AccessClaims struct {
	jwt.RegisteredClaims
	ClientID string `json:"client_id"`
	Scope    string `json:"scope,omitempty"`
}

// KeySource resolves a signing key id to a public key.
type KeySource interface {
	PublicKey(ctx context.Context, kid string) (crypto.PublicKey, error)
}

// ClientLookup reads OAuth2 client records; store.ClientStore satisfies it.
type ClientLookup interface {
	Client(ctx context.Context, id string) (store.Client, error)
}

// RevocationChecker tells whether a token id was revoked.
type RevocationChecker interface {
	Revoked(ctx context.Context, jti string) (bool, error)
}

// TokenVerifierOptions configures a TokenVerifier.
type TokenVerifierOptions struct {
	Issuer      string    // dsgate's own issuer URL
	Audience    string    // the audience dsgate's tokens carry and require
	Keys        KeySource // *SigningKeys
	Clients     ClientLookup
	Revocations RevocationChecker
	Leeway      time.Duration // clock skew on exp/nbf/iat; default 30s
	// ClientCacheTTL bounds reuse of a client record (so a client
	// revocation applies within it); default 1s.
	ClientCacheTTL time.Duration
	Clock          func() time.Time
}

// TokenVerifier authenticates JWT access tokens (RFC 9068 §4): typ at+jwt,
// alg in AllowedAlgorithms, known kid, exact iss, aud containing ours, exp
// required, nbf and iat honoured, jti present and not revoked. Tokens from
// dsgate's own issuer must name an active client.
type TokenVerifier struct {
	opts   TokenVerifierOptions
	parser *jwt.Parser

	mu      sync.RWMutex
	clients map[string]clientEntry
}

type clientEntry struct {
	client  store.Client
	missing bool
	fetched time.Time
}

var _ Authenticator = (*TokenVerifier)(nil)

// NewTokenVerifier returns a verifier.
func NewTokenVerifier(opts TokenVerifierOptions) (*TokenVerifier, error) {
	if opts.Issuer == "" || opts.Audience == "" {
		return nil, errors.New("token verifier: issuer and audience are required")
	}
	if opts.Leeway <= 0 {
		opts.Leeway = 30 * time.Second
	}
	if opts.ClientCacheTTL <= 0 {
		opts.ClientCacheTTL = time.Second
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	v := &TokenVerifier{opts: opts, clients: map[string]clientEntry{}}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(AllowedAlgorithms),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(opts.Leeway),
		jwt.WithTimeFunc(opts.Clock),
	)
	return v, nil
}

// Authenticate implements Authenticator for bearer JWTs.
func (v *TokenVerifier) Authenticate(ctx context.Context, r *http.Request) (*Principal, error) {
	cred, err := Credential(r)
	if err != nil {
		return nil, err
	}
	return v.AuthenticateToken(ctx, cred)
}

// Verify checks raw and returns its claims.
func (v *TokenVerifier) Verify(ctx context.Context, raw string) (*AccessClaims, error) {
	var claims AccessClaims
	var audience string
	_, err := v.parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		typ, _ := t.Header["typ"].(string)
		if !strings.EqualFold(typ, "at+jwt") && !strings.EqualFold(typ, "application/at+jwt") {
			return nil, errors.New("typ is not at+jwt")
		}
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			return nil, errors.New("no kid")
		}
		audience = v.opts.Audience
		if claims.Issuer != v.opts.Issuer {
			return nil, errors.New("untrusted issuer")
		}
		if v.opts.Keys == nil {
			return nil, errors.New("no keys for issuer")
		}
		return v.opts.Keys.PublicKey(ctx, kid)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: invalid access token: %w", ErrUnauthenticated, err)
	}
	if !slices.Contains(claims.Audience, audience) {
		return nil, unauthenticated("invalid access token: wrong audience")
	}
	if claims.ID == "" || claims.Subject == "" || claims.IssuedAt == nil {
		return nil, unauthenticated("invalid access token: missing jti, sub or iat")
	}
	if v.opts.Revocations != nil {
		revoked, err := v.opts.Revocations.Revoked(ctx, claims.ID)
		if err != nil {
			return nil, err
		}
		if revoked {
			return nil, unauthenticated("access token revoked")
		}
	}
	return &claims, nil
}

// AuthenticateToken verifies raw and returns its principal.
func (v *TokenVerifier) AuthenticateToken(ctx context.Context, raw string) (*Principal, error) {
	claims, err := v.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	p := &Principal{Kind: KindClient, TokenID: claims.ID, Issuer: claims.Issuer,
		ExpiresAt: claims.ExpiresAt.Time, Scopes: strings.Fields(claims.Scope)}
	c, err := v.client(ctx, claims.ClientID)
	if err != nil {
		return nil, err
	}
	p.ID, p.Name, p.Role, p.Models = c.ID, c.Name, c.Role, c.Models
	p.RPM, p.TPM, p.MaxConcurrent = c.RPM, c.TPM, c.MaxConcurrent
	return p, nil
}

func (v *TokenVerifier) client(ctx context.Context, id string) (store.Client, error) {
	now := v.opts.Clock()
	v.mu.RLock()
	e, ok := v.clients[id]
	v.mu.RUnlock()
	if !ok || now.Sub(e.fetched) >= v.opts.ClientCacheTTL {
		c, err := v.opts.Clients.Client(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			e = clientEntry{missing: true, fetched: now}
		case err != nil:
			return store.Client{}, fmt.Errorf("reading client: %w", err)
		default:
			e = clientEntry{client: c, fetched: now}
		}
		v.mu.Lock()
		v.clients[id] = e
		v.mu.Unlock()
	}
	if e.missing {
		return store.Client{}, unauthenticated("unknown client")
	}
	if !e.client.RevokedAt.IsZero() {
		return store.Client{}, unauthenticated("client revoked")
	}
	return e.client, nil
}

// ExternalVerifier verifies tokens of trusted external issuers (company
// IdPs, Kubernetes clusters); package auth/federation implements it.
type ExternalVerifier interface {
	// VerifyExternal verifies raw (a JWT) when its iss names one of the
	// external issuers and maps its claims to a principal; ok is false,
	// and nothing is checked, for any other issuer. Errors wrap
	// ErrUnauthenticated (bad token), ErrForbidden (no mapping for the
	// caller) or ErrIssuerUnavailable.
	VerifyExternal(ctx context.Context, raw string) (p *Principal, ok bool, err error)
}

// Chain authenticates with the API-key authenticator when the credential
// starts with KeyPrefix, with External when it is a JWT of a trusted
// external issuer, and with the token verifier for other JWTs. Any may be
// nil to disable that kind. Failures counts failed
// authentications per client address (ClientAddr of the context); while an
// address is over its limit only API keys whose secret matches a record
// read before get through (see KeyAuthenticator.proven), and nothing else
// is looked up.
type Chain struct {
	Keys     *KeyAuthenticator
	Tokens   *TokenVerifier
	External ExternalVerifier
	Failures *FailureLimiter
}

var _ Authenticator = Chain{}

// Authenticate implements Authenticator.
func (c Chain) Authenticate(ctx context.Context, r *http.Request) (*Principal, error) {
	cred, err := Credential(r)
	if err != nil {
		return nil, err
	}
	if c.Failures != nil {
		ctx = WithClientAddr(ctx, r.RemoteAddr)
	}
	return c.AuthenticateCredential(ctx, cred)
}

// Current returns p as its credential's record is now (see
// KeyAuthenticator.Current): an API key's principal is read again; any
// other (an OAuth2 client's, a federated or certificate caller's) has no
// record to read and is returned as it was authenticated.
func (c Chain) Current(ctx context.Context, p *Principal) (*Principal, error) {
	if p.Kind == KindKey && c.Keys != nil {
		return c.Keys.Current(ctx, p.ID)
	}
	return p, nil
}

// AuthenticateCredential authenticates a bearer credential however it
// arrived (an HTTP header, gRPC metadata). A key verified recently is
// accepted from the cache before anything else (the hot path); only other
// credentials meet the failure limit.
func (c Chain) AuthenticateCredential(ctx context.Context, cred string) (*Principal, error) {
	isKey := c.Keys != nil && strings.HasPrefix(cred, KeyPrefix)
	if isKey {
		if p, ok := c.Keys.fresh(cred); ok {
			return p, nil
		}
	}
	addr := ClientAddr(ctx)
	if err := c.Failures.Check(addr); err != nil {
		if isKey {
			if p, ok := c.Keys.proven(ctx, cred); ok {
				return p, nil
			}
		}
		return nil, err
	}
	p, err := c.authenticate(ctx, cred)
	if errors.Is(err, ErrUnauthenticated) {
		c.Failures.Fail(addr)
	}
	return p, err
}

func (c Chain) authenticate(ctx context.Context, cred string) (*Principal, error) {
	switch {
	case c.Keys != nil && strings.HasPrefix(cred, KeyPrefix):
		return c.Keys.AuthenticateKey(ctx, cred)
	case looksLikeJWT(cred):
		if c.External != nil {
			if p, ok, err := c.External.VerifyExternal(ctx, cred); ok {
				return p, err
			}
		}
		if c.Tokens != nil {
			return c.Tokens.AuthenticateToken(ctx, cred)
		}
	}
	return nil, unauthenticated("unrecognized credential")
}
