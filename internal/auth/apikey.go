package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/dsgate/dsgate/internal/store"
)

// API keys look like dsg_<publicid>_<secret>: the public id (16 lowercase
// base32 characters, 80 random bits) names the stored record and may appear
// in logs; the secret (32 random bytes, base64url) is shown once and stored
// only as SHA-256.
//
// A fast hash is right here, unlike for passwords: the secret carries 256
// bits of entropy, so no dictionary or brute-force search of the hash is
// feasible and a slow hash would add no security while costing tens of
// milliseconds on every cache miss. Client secrets, which an operator may
// choose, get argon2id instead (see secret.go).

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewAPIKey returns a fresh key: the full key to show the user once, its
// public id, and the hash to store.
func NewAPIKey() (full, id string, hash []byte, err error) {
	var idb [10]byte
	var secret [32]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", nil, fmt.Errorf("generating key id: %w", err)
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return "", "", nil, fmt.Errorf("generating key secret: %w", err)
	}
	id = strings.ToLower(idEncoding.EncodeToString(idb[:]))
	s := base64.RawURLEncoding.EncodeToString(secret[:])
	sum := sha256.Sum256([]byte(s))
	return KeyPrefix + id + "_" + s, id, sum[:], nil
}

// ParseAPIKey splits a key into its public id and secret.
func ParseAPIKey(key string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(key, KeyPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || id == "" || len(id) > 64 || secret == "" {
		return "", "", false
	}
	return id, secret, true
}

// KeyLookup reads API key records; store.KeyStore satisfies it.
type KeyLookup interface {
	Key(ctx context.Context, id string) (store.Key, error)
}

// KeyAuthenticatorOptions configures a KeyAuthenticator.
type KeyAuthenticatorOptions struct {
	// CacheTTL bounds how long a verified key record is reused without
	// reading the store, and so how long a revocation takes to apply on
	// this replica; default 1s.
	CacheTTL time.Duration
	// MaxEntries triggers a sweep of expired entries; default 100000.
	MaxEntries int
	Clock      func() time.Time // default time.Now
	Logger     *slog.Logger
}

// KeyAuthenticator authenticates API keys. Verified records are cached in
// memory for CacheTTL, so the hot path is a map lookup, one SHA-256 and a
// constant-time compare; concurrent misses for the same id share one read.
type KeyAuthenticator struct {
	keys  KeyLookup
	opts  KeyAuthenticatorOptions
	group singleflight.Group

	mu    sync.RWMutex
	cache map[string]keyEntry
}

type keyEntry struct {
	hash      []byte
	principal *Principal
	expiresAt time.Time // key expiry; zero means never
	revoked   bool
	notFound  bool
	fetched   time.Time
}

var _ Authenticator = (*KeyAuthenticator)(nil)

// NewKeyAuthenticator returns an authenticator reading keys from keys.
func NewKeyAuthenticator(keys KeyLookup, opts KeyAuthenticatorOptions) *KeyAuthenticator {
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = time.Second
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = 100000
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &KeyAuthenticator{keys: keys, opts: opts, cache: make(map[string]keyEntry)}
}

// Authenticate implements Authenticator for API keys only.
func (a *KeyAuthenticator) Authenticate(ctx context.Context, r *http.Request) (*Principal, error) {
	cred, err := Credential(r)
	if err != nil {
		return nil, err
	}
	return a.AuthenticateKey(ctx, cred)
}

// AuthenticateKey checks one API key.
func (a *KeyAuthenticator) AuthenticateKey(ctx context.Context, key string) (*Principal, error) {
	id, secret, ok := ParseAPIKey(key)
	if !ok {
		return nil, unauthenticated("invalid API key")
	}
	now := a.opts.Clock()
	e, err := a.entry(ctx, id, now)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(secret))
	// The compare runs even for unknown ids (against a zero hash) so the
	// time taken does not tell whether the id exists.
	match := subtle.ConstantTimeCompare(sum[:], e.hash) == 1
	switch {
	case e.notFound || !match:
		return nil, unauthenticated("invalid API key")
	case e.revoked:
		return nil, unauthenticated("API key revoked")
	case !e.expiresAt.IsZero() && !now.Before(e.expiresAt):
		return nil, unauthenticated("API key expired")
	}
	return e.principal, nil
}

var zeroHash = make([]byte, sha256.Size)

func (a *KeyAuthenticator) entry(ctx context.Context, id string, now time.Time) (keyEntry, error) {
	a.mu.RLock()
	e, ok := a.cache[id]
	a.mu.RUnlock()
	if ok && now.Sub(e.fetched) < a.opts.CacheTTL {
		return e, nil
	}
	v, err, _ := a.group.Do(id, func() (any, error) {
		// The store read must not be cut short by one caller's cancellation
		// because other callers share its result.
		ctx := context.WithoutCancel(ctx)
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		k, err := a.keys.Key(ctx, id)
		e := keyEntry{fetched: now, hash: zeroHash}
		switch {
		case errors.Is(err, store.ErrNotFound):
			e.notFound = true
		case err != nil:
			return nil, fmt.Errorf("reading API key: %w", err)
		default:
			e.hash = k.Hash
			e.revoked = !k.RevokedAt.IsZero()
			e.expiresAt = k.ExpiresAt
			e.principal = &Principal{ID: k.ID, Kind: KindKey, Name: k.Name, Role: k.Role, Models: k.Models,
				RPM: k.RPM, TPM: k.TPM, MaxConcurrent: k.MaxConcurrent, ExpiresAt: k.ExpiresAt}
		}
		a.put(id, e)
		return e, nil
	})
	if err != nil {
		return keyEntry{}, err
	}
	return v.(keyEntry), nil
}

func (a *KeyAuthenticator) put(id string, e keyEntry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.cache) >= a.opts.MaxEntries {
		for k, old := range a.cache {
			if e.fetched.Sub(old.fetched) >= a.opts.CacheTTL {
				delete(a.cache, k)
			}
		}
	}
	a.cache[id] = e
}

// Forget drops a key from the cache so a revocation applies at once on
// this replica (other replicas see it within CacheTTL).
func (a *KeyAuthenticator) Forget(id string) {
	a.mu.Lock()
	delete(a.cache, id)
	a.mu.Unlock()
}
