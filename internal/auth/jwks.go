package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"
)

// RemoteJWKS fetches and caches the JSON Web Key Set of an external issuer
// (a company IdP). Keys are re-fetched every RefreshInterval and, at most
// once per MinRefresh, when a token names an unknown kid (the IdP rotated).
type RemoteJWKS struct {
	url    string
	client *http.Client
	clock  func() time.Time
	every  time.Duration
	minGap time.Duration

	mu      sync.RWMutex
	keys    map[string]crypto.PublicKey
	fetched time.Time
	fetchMu sync.Mutex
}

// RemoteJWKSOptions configures a RemoteJWKS.
type RemoteJWKSOptions struct {
	HTTPClient      *http.Client     // default: 10s timeout
	RefreshInterval time.Duration    // default 1h
	MinRefresh      time.Duration    // default 10s
	Clock           func() time.Time // default time.Now
}

// NewRemoteJWKS returns a key source for the JWKS at url; nothing is
// fetched until a key is needed.
func NewRemoteJWKS(url string, opts RemoteJWKSOptions) *RemoteJWKS {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = time.Hour
	}
	if opts.MinRefresh <= 0 {
		opts.MinRefresh = 10 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &RemoteJWKS{url: url, client: opts.HTTPClient, clock: opts.Clock, every: opts.RefreshInterval, minGap: opts.MinRefresh}
}

// PublicKey returns the key for kid.
func (j *RemoteJWKS) PublicKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	now := j.clock()
	j.mu.RLock()
	k, ok := j.keys[kid]
	age := now.Sub(j.fetched)
	fetchedOnce := !j.fetched.IsZero()
	j.mu.RUnlock()
	if ok && age < j.every {
		return k, nil
	}
	if !fetchedOnce || age >= j.minGap {
		if err := j.fetch(ctx); err != nil {
			if ok { // keep using a known key while the IdP is unreachable
				return k, nil
			}
			return nil, err
		}
		j.mu.RLock()
		k, ok = j.keys[kid]
		j.mu.RUnlock()
	}
	if !ok {
		return nil, fmt.Errorf("%w: unknown signing key", ErrUnauthenticated)
	}
	return k, nil
}

func (j *RemoteJWKS) fetch(ctx context.Context) error {
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	j.mu.RLock()
	recent := !j.fetched.IsZero() && j.clock().Sub(j.fetched) < j.minGap
	j.mu.RUnlock()
	if recent {
		return nil
	}
	var set jwkSet
	if err := getJSON(ctx, j.client, j.url, &set); err != nil {
		return fmt.Errorf("fetching jwks: %w", err)
	}
	keys := make(map[string]crypto.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		pub, err := k.publicKey()
		if err != nil || k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue // skip keys we cannot or must not use
		}
		keys[k.Kid] = pub
	}
	j.mu.Lock()
	j.keys, j.fetched = keys, j.clock()
	j.mu.Unlock()
	return nil
}

func getJSON(ctx context.Context, c *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// DiscoverJWKSURL reads issuer's OpenID Connect discovery document (or,
// failing that, RFC 8414 metadata) and returns its jwks_uri. The document's
// issuer must equal issuer exactly.
func DiscoverJWKSURL(ctx context.Context, c *http.Client, issuer string) (string, error) {
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	var errs []error
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := getJSON(ctx, c, trimSlash(issuer)+path, &doc); err != nil {
			errs = append(errs, err)
			continue
		}
		if doc.Issuer != issuer {
			return "", fmt.Errorf("discovery: issuer %q does not match %q", doc.Issuer, issuer)
		}
		if doc.JWKSURI == "" {
			return "", errors.New("discovery: no jwks_uri")
		}
		return doc.JWKSURI, nil
	}
	return "", fmt.Errorf("discovering %s: %w", issuer, errors.Join(errs...))
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

func (k jwk) publicKey() (crypto.PublicKey, error) {
	dec := base64.RawURLEncoding.DecodeString
	switch k.Kty {
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		default:
			return nil, fmt.Errorf("unsupported curve %q", k.Crv)
		}
		x, err1 := dec(k.X)
		y, err2 := dec(k.Y)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		size := (curve.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return nil, errors.New("bad EC coordinates")
		}
		point := append(append([]byte{4}, x...), y...)
		return ecdsa.ParseUncompressedPublicKey(curve, point)
	case "RSA":
		n, err1 := dec(k.N)
		e, err2 := dec(k.E)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 {
			return nil, errors.New("RSA key shorter than 2048 bits")
		}
		return pub, nil
	case "OKP":
		x, err := dec(k.X)
		if err != nil {
			return nil, err
		}
		if k.Crv != "Ed25519" || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("unsupported OKP key")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, fmt.Errorf("unsupported key type %q", k.Kty)
}
