package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/dsgate/dsgate/internal/auth"
)

// keySet is one issuer's signing keys. jwkset fetches the set, keeps it in
// memory and refreshes it every refreshEvery in its own goroutine; keyfunc
// picks the key of a token. keySet adds: lazy set-up (an IdP down at start
// does not stop dsgate), the bound on stale keys, and the non-blocking rate
// limit on unknown-kid refreshes.
type keySet struct {
	name, issuer, jwksURL string
	client                *http.Client
	refreshEvery          time.Duration
	maxAge                time.Duration
	retryGap              time.Duration
	clock                 func() time.Time
	log                   *slog.Logger

	unknownKID *rate.Limiter // Allow only: a refused refresh never waits

	mu        sync.RWMutex
	cur       *fetchedSet // nil until the first successful fetch
	lastTry   time.Time   // last set-up attempt
	lastErr   error       // last set-up or refresh failure
	closed    bool
	discovery string // jwks_uri found by discovery
}

// fetchedSet is one jwkset HTTP storage with its refresh goroutine.
type fetchedSet struct {
	kf     keyfunc.Keyfunc
	store  *recordingStorage
	cancel context.CancelFunc // ends the refresh goroutine
}

// recordingStorage notes when jwkset last replaced the keys, which it does
// only after a successful fetch.
type recordingStorage struct {
	*jwkset.MemoryJWKSet
	mu      sync.RWMutex
	fetched time.Time
	clock   func() time.Time
}

func (s *recordingStorage) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	err := s.MemoryJWKSet.KeyReplaceAll(ctx, given)
	if err == nil {
		s.mu.Lock()
		s.fetched = s.clock()
		s.mu.Unlock()
	}
	return err
}

func (s *recordingStorage) lastFetch() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.fetched
}

// keyfunc returns the jwt.Keyfunc for one verification: it sets the keys
// up on first use and refuses keys older than maxAge when a new fetch
// fails.
func (k *keySet) keyfunc(ctx context.Context) (jwt.Keyfunc, error) {
	k.mu.RLock()
	cur, closed := k.cur, k.closed
	k.mu.RUnlock()
	if !closed && cur != nil && k.clock().Sub(cur.store.lastFetch()) <= k.maxAge {
		return k.wrap(ctx, cur), nil // the steady state
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, fmt.Errorf("%w: issuer %s: closed", auth.ErrIssuerUnavailable, k.name)
	}
	now := k.clock()
	if k.cur != nil && now.Sub(k.cur.store.lastFetch()) <= k.maxAge {
		return k.wrap(ctx, k.cur), nil
	}
	if k.lastTry.IsZero() || now.Sub(k.lastTry) >= k.retryGap {
		k.lastTry = now
		if err := k.setUp(ctx); err != nil {
			k.lastErr = err
			k.log.Warn("external issuer keys unavailable", "issuer", k.name, "err", err)
		}
	}
	if k.cur == nil {
		return nil, fmt.Errorf("%w: issuer %s: signing keys could not be fetched: %v", auth.ErrIssuerUnavailable, k.name, k.lastErr)
	}
	age := now.Sub(k.cur.store.lastFetch())
	if age > k.maxAge {
		return nil, fmt.Errorf("%w: issuer %s: signing keys last fetched %s ago, longer than max_key_age %s (last error: %v)",
			auth.ErrIssuerUnavailable, k.name, age.Round(time.Second), k.maxAge, k.lastErr)
	}
	return k.wrap(ctx, k.cur), nil
}

// wrap adds the unknown-kid rule in front of keyfunc: a kid not in the
// cached set triggers jwkset's refresh only when the limiter allows.
func (k *keySet) wrap(ctx context.Context, fs *fetchedSet) jwt.Keyfunc {
	inner := fs.kf.KeyfuncCtx(ctx)
	return func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid != "" {
			if _, err := fs.store.KeyRead(ctx, kid); errors.Is(err, jwkset.ErrKeyNotFound) && !k.unknownKID.Allow() {
				return nil, fmt.Errorf("unknown signing key %q (refresh rate-limited)", kid)
			}
		}
		return inner(t)
	}
}

// setUp discovers the JWKS URL when needed and fetches the set once,
// replacing the current set on success. k.mu is held.
func (k *keySet) setUp(ctx context.Context) error {
	url := k.jwksURL
	if url == "" {
		var err error
		if url, err = discoverJWKS(ctx, k.client, k.issuer); err != nil {
			return err
		}
		k.discovery = url
	}
	store := &recordingStorage{MemoryJWKSet: jwkset.NewMemoryStorage(), clock: k.clock}
	bg, cancel := context.WithCancel(context.Background())
	httpStore, err := jwkset.NewStorageFromHTTP(url, jwkset.HTTPClientStorageOptions{
		Client:          k.client,
		Ctx:             bg,
		HTTPTimeout:     k.client.Timeout,
		RefreshInterval: k.refreshEvery,
		RefreshErrorHandler: func(_ context.Context, err error) {
			k.noteRefreshError(err)
		},
		Storage: store,
	})
	if err != nil {
		cancel()
		return fmt.Errorf("fetching %s: %w", url, err)
	}
	// rate.Inf: jwkset never waits; wrap already applied our limit.
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{url: httpStore},
		RefreshUnknownKID: rate.NewLimiter(rate.Inf, 1),
	})
	if err != nil {
		cancel()
		return err
	}
	kf, err := keyfunc.New(keyfunc.Options{Storage: client, UseWhitelist: []jwkset.USE{jwkset.UseSig}})
	if err != nil {
		cancel()
		return err
	}
	if k.cur != nil {
		k.cur.cancel()
	}
	k.cur, k.lastErr = &fetchedSet{kf: kf, store: store, cancel: cancel}, nil
	return nil
}

func (k *keySet) noteRefreshError(err error) {
	k.mu.Lock()
	k.lastErr = err
	k.mu.Unlock()
	k.log.Warn("refreshing external issuer keys", "issuer", k.name, "err", err)
}

func (k *keySet) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	if k.cur != nil {
		k.cur.cancel()
	}
}

// Metadata is the part of an OpenID Provider's discovery document dsgate
// reads.
type Metadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	EndSessionEndpoint    string `json:"end_session_endpoint"`
}

// Discover reads issuer's OpenID Connect discovery document
// (issuer + "/.well-known/openid-configuration", the path Kubernetes' API
// server serves too). The document's issuer must equal issuer exactly
// (OpenID Connect Discovery §4.3), so a look-alike cannot lend its keys.
func Discover(ctx context.Context, c *http.Client, issuer string) (Metadata, error) {
	var md Metadata
	url := strings.TrimRight(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return md, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return md, fmt.Errorf("discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return md, fmt.Errorf("discovery: GET %s: status %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&md); err != nil {
		return md, fmt.Errorf("discovery: decoding %s: %w", url, err)
	}
	if md.Issuer != issuer {
		return md, fmt.Errorf("discovery: document names issuer %q, want %q", md.Issuer, issuer)
	}
	if md.JWKSURI == "" {
		return md, errors.New("discovery: no jwks_uri")
	}
	return md, nil
}

func discoverJWKS(ctx context.Context, c *http.Client, issuer string) (string, error) {
	md, err := Discover(ctx, c, issuer)
	return md.JWKSURI, err
}
