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
	"time"

	"github.com/maypok86/otter/v2"
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
	// NegativeTTL is how long an unknown key id is remembered as unknown,
	// so repeating it costs no store read; default CacheTTL. A key created
	// on another replica is accepted here at most this late.
	NegativeTTL time.Duration
	// MaxEntries bounds the cache (known and unknown ids together); past
	// it the least valuable entries are evicted (W-TinyLFU, so a flood of
	// made-up ids does not push out keys in use); default 100000.
	MaxEntries int
	Clock      func() time.Time // default time.Now
	Logger     *slog.Logger
}

// KeyAuthenticator authenticates API keys. Key records (and unknown ids)
// are cached in a bounded otter cache, so the hot path is a cache lookup,
// one SHA-256 and a constant-time compare; concurrent misses for the same
// id share one read. Freshness is judged with Clock; otter's own expiry
// only reclaims memory.
type KeyAuthenticator struct {
	keys  KeyLookup
	opts  KeyAuthenticatorOptions
	group singleflight.Group
	cache *otter.Cache[string, keyEntry]
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
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = opts.CacheTTL
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
	a := &KeyAuthenticator{keys: keys, opts: opts}
	a.cache = otter.Must(&otter.Options[string, keyEntry]{
		MaximumSize: opts.MaxEntries,
		// Known keys stay longer than they are fresh (proven below);
		// unknown ids only as long as they count.
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, keyEntry]) time.Duration {
			if e.Value.notFound {
				return opts.NegativeTTL
			}
			return max(opts.CacheTTL, provenTTL)
		}),
	})
	return a
}

func (a *KeyAuthenticator) ttl(e keyEntry) time.Duration {
	if e.notFound {
		return a.opts.NegativeTTL
	}
	return a.opts.CacheTTL
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
	return e.check(secret, now)
}

// fresh authenticates key from a fresh cache entry alone: ok is false on a
// miss, a stale entry or any failure (the caller then takes the full path).
func (a *KeyAuthenticator) fresh(key string) (*Principal, bool) {
	id, secret, ok := ParseAPIKey(key)
	if !ok {
		return nil, false
	}
	now := a.opts.Clock()
	e, ok := a.cache.GetIfPresent(id)
	if !ok || e.notFound || now.Sub(e.fetched) >= a.opts.CacheTTL {
		return nil, false
	}
	p, err := e.check(secret, now)
	return p, err == nil
}

// provenTTL is how long a key record stays in memory after its last read,
// so that proven can recognise it; it is used only after a fresh read.
const provenTTL = 10 * time.Minute

// proven authenticates key only if its secret matches a key record this
// authenticator has read before (however long ago); the record is then
// re-read as usual if stale. A made-up key never reaches the store here:
// this is the path for addresses over their failure limit.
func (a *KeyAuthenticator) proven(ctx context.Context, key string) (*Principal, bool) {
	id, secret, ok := ParseAPIKey(key)
	if !ok {
		return nil, false
	}
	e, ok := a.cache.GetIfPresent(id)
	if !ok || e.notFound {
		return nil, false
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], e.hash) != 1 {
		return nil, false
	}
	p, err := a.AuthenticateKey(ctx, key)
	return p, err == nil
}

// check verifies secret against the entry.
func (e keyEntry) check(secret string, now time.Time) (*Principal, error) {
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
	if e, ok := a.cache.GetIfPresent(id); ok && now.Sub(e.fetched) < a.ttl(e) {
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
		a.cache.Set(id, e)
		return e, nil
	})
	if err != nil {
		return keyEntry{}, err
	}
	return v.(keyEntry), nil
}

// Current returns the principal of API key id as its record is now (read
// through the cache, which Forget clears on a revocation): a key revoked,
// expired or deleted since is refused, and its models and limits are
// today's. It is for work done later on a key's behalf (a Batch API job
// created with it).
func (a *KeyAuthenticator) Current(ctx context.Context, id string) (*Principal, error) {
	now := a.opts.Clock()
	e, err := a.entry(ctx, id, now)
	switch {
	case err != nil:
		return nil, err
	case e.notFound:
		return nil, unauthenticated("API key deleted")
	case e.revoked:
		return nil, unauthenticated("API key revoked")
	case !e.expiresAt.IsZero() && !now.Before(e.expiresAt):
		return nil, unauthenticated("API key expired")
	}
	return e.principal, nil
}

// Forget drops a key from the cache so a revocation (or a creation, for a
// remembered unknown id) applies at once on this replica; other replicas
// see it within CacheTTL (NegativeTTL).
func (a *KeyAuthenticator) Forget(id string) {
	a.cache.Invalidate(id)
}
