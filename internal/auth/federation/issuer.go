package federation

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/dsgate/dsgate/internal/auth"
)

// SafeAlgorithms are the JWS algorithms an external issuer may be allowed:
// asymmetric ones only. "none" and the HMAC family (HS256 keyed with a
// public key is the classic algorithm-confusion attack) can never be.
var SafeAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// DefaultAlgorithms are allowed when an issuer lists none.
var DefaultAlgorithms = []string{"RS256", "PS256", "ES256", "EdDSA"}

// IssuerOptions configure one trusted issuer.
type IssuerOptions struct {
	// Name identifies the issuer in principals ("<name>:<subject>"), logs
	// and errors.
	Name string
	// Issuer is the exact iss of its tokens. Keys are found by discovery
	// at Issuer/.well-known/openid-configuration unless JWKSURL is set.
	Issuer  string
	JWKSURL string
	// Audiences: a token's aud must contain one of them. Required.
	Audiences []string
	// Algorithms allowed, a subset of SafeAlgorithms; default
	// DefaultAlgorithms.
	Algorithms []string
	// ClockSkew tolerated on exp, nbf and iat; default 30s.
	ClockSkew time.Duration
	Mapping   Mapping
	// RefreshInterval: how often the key set is re-fetched; default 1h.
	RefreshInterval time.Duration
	// UnknownKIDInterval: the least time between refreshes caused by
	// tokens naming an unknown kid; default 30s.
	UnknownKIDInterval time.Duration
	// MaxKeyAge: keys last fetched longer ago stop verifying (the IdP has
	// been unreachable that long); default 24h.
	MaxKeyAge time.Duration
	// CacheTTL, when positive, reuses the principal of a token verified
	// less than CacheTTL ago (and not expired) without checking it again;
	// the server uses auth.key_cache_ttl, as for API keys. A key removed
	// from the issuer's set or a role removed from dsgate applies within it.
	CacheTTL time.Duration
	// HTTPClient fetches discovery and keys; default a client with a 10s
	// timeout (see NewHTTPClient for a CA and a bearer token).
	HTTPClient *http.Client
	// HasRole reports whether a mapped role exists (auth.Policy.HasRole);
	// nil accepts any.
	HasRole func(string) bool
	Clock   func() time.Time
	Logger  *slog.Logger
}

// Issuer verifies the tokens of one trusted issuer.
type Issuer struct {
	opts   IssuerOptions
	parser *jwt.Parser
	keys   *keySet
	cache  *verified // nil without CacheTTL
}

// NewIssuer checks o and returns an Issuer. Nothing is fetched until the
// first token arrives (or Check runs), so an IdP that is down at start does
// not stop dsgate.
func NewIssuer(o IssuerOptions) (*Issuer, error) {
	if o.Name == "" || o.Issuer == "" {
		return nil, errors.New("external issuer: name and issuer are required")
	}
	if len(o.Audiences) == 0 {
		return nil, fmt.Errorf("external issuer %s: audiences are required", o.Name)
	}
	if len(o.Algorithms) == 0 {
		o.Algorithms = DefaultAlgorithms
	}
	for _, a := range o.Algorithms {
		if !slices.Contains(SafeAlgorithms, a) {
			return nil, fmt.Errorf("external issuer %s: algorithm %q is not allowed (only %s)", o.Name, a, strings.Join(SafeAlgorithms, ", "))
		}
	}
	defaults(&o)
	is := &Issuer{opts: o}
	if o.CacheTTL > 0 {
		is.cache = &verified{ttl: o.CacheTTL, entries: map[string]verifiedEntry{}}
	}
	is.parser = jwt.NewParser(
		jwt.WithValidMethods(o.Algorithms),
		jwt.WithIssuer(o.Issuer),
		jwt.WithAudience(o.Audiences...),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(o.ClockSkew),
		jwt.WithTimeFunc(o.Clock),
	)
	is.keys = &keySet{name: o.Name, issuer: o.Issuer, jwksURL: o.JWKSURL, client: o.HTTPClient,
		refreshEvery: o.RefreshInterval, maxAge: o.MaxKeyAge, retryGap: o.UnknownKIDInterval,
		clock: o.Clock, log: o.Logger, unknownKID: rate.NewLimiter(rate.Every(o.UnknownKIDInterval), 1)}
	return is, nil
}

func defaults(o *IssuerOptions) {
	if o.ClockSkew <= 0 {
		o.ClockSkew = 30 * time.Second
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = time.Hour
	}
	if o.UnknownKIDInterval <= 0 {
		o.UnknownKIDInterval = 30 * time.Second
	}
	if o.MaxKeyAge <= 0 {
		o.MaxKeyAge = 24 * time.Hour
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.HTTPClient.Timeout <= 0 {
		c := *o.HTTPClient
		c.Timeout = 10 * time.Second
		o.HTTPClient = &c
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Name is the issuer's configured name.
func (is *Issuer) Name() string { return is.opts.Name }

// URL is the issuer's iss.
func (is *Issuer) URL() string { return is.opts.Issuer }

// Verify checks raw's signature (a key of the issuer's current set, an
// allowed algorithm), iss, aud, exp, nbf and iat, and returns its claims.
func (is *Issuer) Verify(ctx context.Context, raw string) (map[string]any, error) {
	kf, err := is.keys.keyfunc(ctx)
	if err != nil {
		return nil, err
	}
	claims := jwt.MapClaims{}
	if _, err := is.parser.ParseWithClaims(raw, claims, kf); err != nil {
		return nil, unauthenticated(is.opts.Name, err.Error())
	}
	return claims, nil
}

// VerifyIDToken checks an OpenID Connect ID token from the issuer's
// authorization endpoint: the same checks as Verify, but aud must hold
// clientID (OpenID Connect Core §3.1.3.7) and nonce must match.
func (is *Issuer) VerifyIDToken(ctx context.Context, raw, clientID, nonce string) (map[string]any, error) {
	kf, err := is.keys.keyfunc(ctx)
	if err != nil {
		return nil, err
	}
	p := jwt.NewParser(jwt.WithValidMethods(is.opts.Algorithms), jwt.WithIssuer(is.opts.Issuer),
		jwt.WithAudience(clientID), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithLeeway(is.opts.ClockSkew), jwt.WithTimeFunc(is.opts.Clock))
	claims := jwt.MapClaims{}
	if _, err := p.ParseWithClaims(raw, claims, kf); err != nil {
		return nil, unauthenticated(is.opts.Name, "ID token: "+err.Error())
	}
	if got, _ := claims["nonce"].(string); nonce == "" || subtle.ConstantTimeCompare([]byte(got), []byte(nonce)) != 1 {
		return nil, unauthenticated(is.opts.Name, "ID token: nonce does not match")
	}
	return claims, nil
}

// Principal maps verified claims to a principal by the issuer's mapping.
func (is *Issuer) Principal(claims map[string]any) (*auth.Principal, error) {
	return is.opts.Mapping.principal(is.opts.Name, claims, is.opts.HasRole)
}

// HTTPClient is the client the issuer fetches with (its CA and token).
func (is *Issuer) HTTPClient() *http.Client { return is.opts.HTTPClient }

// Authenticate verifies raw and maps it to a principal. The principal is
// shared through the cache: treat it as read-only.
func (is *Issuer) Authenticate(ctx context.Context, raw string) (*auth.Principal, error) {
	now := is.opts.Clock()
	if p, ok := is.cache.get(raw, now); ok {
		return p, nil
	}
	claims, err := is.Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	p, err := is.opts.Mapping.principal(is.opts.Name, claims, is.opts.HasRole)
	if err == nil {
		is.cache.put(raw, p, now)
	}
	return p, err
}

// close stops the key refreshes.
func (is *Issuer) close() { is.keys.close() }

// peekIssuer returns the iss of a JWT without verifying anything: it only
// routes the token to the issuer that will verify it.
func peekIssuer(raw string) string {
	_, rest, ok := strings.Cut(raw, ".")
	if !ok {
		return ""
	}
	payload, _, ok := strings.Cut(rest, ".")
	if !ok || len(payload) > 64<<10 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Iss
}
