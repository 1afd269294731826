package auth

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dsgate/dsgate/internal/store"
)

// SigningKeysOptions configures SigningKeys.
type SigningKeysOptions struct {
	Store store.SigningKeyStore
	// EncryptionKey (32 bytes) encrypts private keys at rest with
	// AES-256-GCM; every replica needs the same one. Required.
	EncryptionKey []byte
	// RotateEvery starts a new key when the signing key is this old;
	// default 30 days. Run does the rotation.
	RotateEvery time.Duration
	// PublishAhead publishes a new key in the JWKS this long before it
	// signs, so verifiers that cache the JWKS learn it first; default 0.
	PublishAhead time.Duration
	// TokenTTL is the longest access-token lifetime: a superseded key keeps
	// verifying for TokenTTL+Leeway, then Run deletes it. Default 1h.
	TokenTTL time.Duration
	// Leeway is the clock skew allowed on exp/nbf; default 30s.
	Leeway time.Duration
	// RefreshInterval is how often Run re-reads the store to pick up keys
	// rotated by another replica; default 30s. An unknown kid also triggers
	// a re-read (at most once a second).
	RefreshInterval time.Duration
	Clock           func() time.Time
	Logger          *slog.Logger
}

// SigningKeys holds dsgate's ES256 token-signing keys. Safe for concurrent
// use.
type SigningKeys struct {
	opts SigningKeysOptions
	aead cipher.AEAD

	reloadMu   sync.Mutex // serializes reloads
	lastReload time.Time
	unknownMu  sync.Mutex // queues reloads for unknown key ids

	mu      sync.RWMutex
	signer  *loadedKey
	pending *loadedKey // newest key not yet active
	keys    map[string]*loadedKey
	jwks    []byte
}

type loadedKey struct {
	rec  store.SigningKey
	priv *ecdsa.PrivateKey
}

// NewSigningKeys loads the keys from the store, creating the first one if
// there is none.
func NewSigningKeys(ctx context.Context, opts SigningKeysOptions) (*SigningKeys, error) {
	if len(opts.EncryptionKey) != 32 {
		return nil, errors.New("signing keys: encryption key must be 32 bytes")
	}
	if opts.RotateEvery <= 0 {
		opts.RotateEvery = 30 * 24 * time.Hour
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Leeway <= 0 {
		opts.Leeway = 30 * time.Second
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = 30 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	block, err := aes.NewCipher(opts.EncryptionKey)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	s := &SigningKeys{opts: opts, aead: aead}
	if err := s.Reload(ctx); err != nil {
		return nil, err
	}
	if s.current() == nil {
		if err := s.add(ctx, opts.Clock()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// current returns the signing key, promoting a pending key whose time has
// come without waiting for the next reload.
func (s *SigningKeys) current() *loadedKey {
	s.mu.RLock()
	signer, pending := s.signer, s.pending
	s.mu.RUnlock()
	if pending == nil || pending.rec.ActivatesAt.After(s.opts.Clock()) {
		return signer
	}
	s.mu.Lock()
	if s.pending == pending {
		s.signer, s.pending = pending, nil
	}
	signer = s.signer
	s.mu.Unlock()
	return signer
}

// Rotate adds a new key that starts signing after PublishAhead. The old key
// keeps verifying the tokens it signed until they expire.
func (s *SigningKeys) Rotate(ctx context.Context) error {
	activates := s.opts.Clock().Add(s.opts.PublishAhead)
	s.mu.RLock()
	for _, k := range s.keys {
		// The newest key signs; make sure the new key is strictly newest.
		if !activates.After(k.rec.ActivatesAt) {
			activates = k.rec.ActivatesAt.Add(time.Microsecond)
		}
	}
	s.mu.RUnlock()
	return s.add(ctx, activates)
}

func (s *SigningKeys) add(ctx context.Context, activates time.Time) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("encoding signing key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return fmt.Errorf("encoding public key: %w", err)
	}
	var kidb [12]byte
	if _, err := rand.Read(kidb[:]); err != nil {
		return fmt.Errorf("generating kid: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(kidb[:])
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("generating nonce: %w", err)
	}
	sealed := s.aead.Seal(nonce, nonce, der, []byte(kid))
	rec := store.SigningKey{KID: kid, Algorithm: "ES256", PrivateKey: sealed, PublicKey: pub,
		CreatedAt: s.opts.Clock(), ActivatesAt: activates}
	if err := s.opts.Store.AddSigningKey(ctx, rec); err != nil {
		return fmt.Errorf("storing signing key: %w", err)
	}
	s.opts.Logger.Info("token signing key added", "kid", kid, "activates_at", activates)
	return s.Reload(ctx)
}

// Reload re-reads the keys from the store.
func (s *SigningKeys) Reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	now := s.opts.Clock()
	s.lastReload = now
	recs, err := s.opts.Store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("loading signing keys: %w", err)
	}
	keys := make(map[string]*loadedKey, len(recs))
	var signer, pending *loadedKey
	var jwks jwkSet
	for _, rec := range recs { // newest first
		lk, err := s.open(rec)
		if err != nil {
			return err
		}
		keys[rec.KID] = lk
		jwks.Keys = append(jwks.Keys, ecJWK(rec.KID, &lk.priv.PublicKey))
		switch {
		case rec.ActivatesAt.After(now):
			pending = lk
		case signer == nil && rec.RetiredAt.IsZero():
			signer = lk
		}
	}
	body, err := json.Marshal(jwks)
	if err != nil {
		return fmt.Errorf("encoding jwks: %w", err)
	}
	s.mu.Lock()
	s.signer, s.pending, s.keys, s.jwks = signer, pending, keys, body
	s.mu.Unlock()
	return nil
}

func (s *SigningKeys) open(rec store.SigningKey) (*loadedKey, error) {
	n := s.aead.NonceSize()
	if len(rec.PrivateKey) < n {
		return nil, fmt.Errorf("signing key %s: truncated", rec.KID)
	}
	der, err := s.aead.Open(nil, rec.PrivateKey[:n], rec.PrivateKey[n:], []byte(rec.KID))
	if err != nil {
		return nil, fmt.Errorf("signing key %s: decrypting (wrong encryption key?): %w", rec.KID, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", rec.KID, err)
	}
	priv, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: not an ECDSA key", rec.KID)
	}
	return &loadedKey{rec: rec, priv: priv}, nil
}

// Sign signs claims with the current key as an RFC 9068 access token.
func (s *SigningKeys) Sign(claims jwt.Claims) (string, error) {
	k := s.current()
	if k == nil {
		return "", errors.New("no active signing key")
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = k.rec.KID
	signed, err := tok.SignedString(k.priv)
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return signed, nil
}

// PublicKey returns the verification key for kid. An unknown kid triggers
// a reload (at most once a second) so keys rotated by another replica are
// found.
func (s *SigningKeys) PublicKey(ctx context.Context, kid string) (crypto.PublicKey, error) {
	if k := s.lookup(kid); k != nil {
		return k, nil
	}
	if err := s.reloadForUnknown(ctx); err != nil {
		return nil, err
	}
	if k := s.lookup(kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("%w: unknown signing key", ErrUnauthenticated)
}

// unknownKeyReloadEvery bounds how often unknown key ids make the store be
// read, so a flood of forged kids cannot hammer it.
const unknownKeyReloadEvery = 250 * time.Millisecond

// reloadForUnknown makes sure the keys were read from the store after the
// caller arrived: another replica may have just created the key (at start
// or on rotation). Callers queue; one that finds a fresh enough reload
// done by someone ahead of it uses that, otherwise it waits out the rate
// limit and reloads. Unknown ids therefore cost at most a short wait, never
// a wrong 401.
func (s *SigningKeys) reloadForUnknown(ctx context.Context) error {
	arrived := s.opts.Clock()
	s.unknownMu.Lock()
	defer s.unknownMu.Unlock()
	s.reloadMu.Lock()
	last := s.lastReload
	s.reloadMu.Unlock()
	if last.After(arrived) {
		return nil
	}
	if wait := unknownKeyReloadEvery - s.opts.Clock().Sub(last); wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return s.Reload(ctx)
}

func (s *SigningKeys) lookup(kid string) crypto.PublicKey {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if k, ok := s.keys[kid]; ok {
		return &k.priv.PublicKey
	}
	return nil
}

// JWKS returns the JSON Web Key Set of every key that may verify a token.
func (s *SigningKeys) JWKS() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.jwks
}

// Run reloads the keys every RefreshInterval, activates pending keys,
// rotates when the signing key is older than RotateEvery and deletes keys
// superseded for longer than TokenTTL+Leeway. It returns when ctx ends.
// Replicas rotating at the same moment may each add a key; both are valid.
func (s *SigningKeys) Run(ctx context.Context) error {
	t := time.NewTicker(s.opts.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := s.Maintain(ctx); err != nil {
			s.opts.Logger.Warn("maintaining signing keys", "err", err)
		}
	}
}

// Maintain runs one step of Run.
func (s *SigningKeys) Maintain(ctx context.Context) error {
	if err := s.Reload(ctx); err != nil {
		return err
	}
	now := s.opts.Clock()
	s.mu.RLock()
	signer, pending := s.signer, s.pending
	var recs []store.SigningKey
	for _, k := range s.keys {
		recs = append(recs, k.rec)
	}
	s.mu.RUnlock()
	if signer != nil && pending == nil && now.Sub(signer.rec.ActivatesAt) >= s.opts.RotateEvery {
		if err := s.Rotate(ctx); err != nil {
			return err
		}
	}
	// A key is superseded when a newer key activated; it must verify for
	// one more token lifetime after that.
	var errs []error
	for _, old := range recs {
		if signer == nil || old.KID == signer.rec.KID || !old.ActivatesAt.Before(signer.rec.ActivatesAt) {
			continue
		}
		if now.Sub(signer.rec.ActivatesAt) > s.opts.TokenTTL+s.opts.Leeway {
			errs = append(errs, s.opts.Store.DeleteSigningKey(ctx, old.KID))
		}
	}
	return errors.Join(errs...)
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

func ecJWK(kid string, pub *ecdsa.PublicKey) jwk {
	b, _ := pub.Bytes() // uncompressed point 0x04 || X || Y; P-256 always encodes
	size := (len(b) - 1) / 2
	return jwk{Kty: "EC", Crv: "P-256", Kid: kid, Use: "sig", Alg: "ES256",
		X: base64.RawURLEncoding.EncodeToString(b[1 : 1+size]),
		Y: base64.RawURLEncoding.EncodeToString(b[1+size:])}
}
