package modelcrypt

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

const fileKeyInfo = "dsgate modelcrypt v1 file key"

// KeyConfig is one entry of a Keyring.
type KeyConfig struct {
	// ID names the key in file headers; 1..64 of [A-Za-z0-9._-].
	ID string
	// Source yields the key, or the passphrase when Passphrase is set.
	Source KeySource
	// Passphrase means Source yields a passphrase that argon2id stretches
	// into the key, with a salt stored in each file header. Trailing
	// newlines ("\n", "\r\n") are removed from the passphrase.
	Passphrase bool
	// Argon2 are the cost parameters for files encrypted with this key; the
	// zero value means DefaultArgon2(). Decryption uses the header's values.
	Argon2 Argon2Params
}

// Keyring maps key ids to key sources, so files encrypted under an old key
// and a new one can be read side by side during rotation: decryption picks
// the key named in each file's header.
//
// A Keyring fetches each key at most once (a key command runs once per
// directory, a passphrase is stretched once per salt) and keeps the derived
// master keys until Close, which zeroes them. It is safe for concurrent use.
type Keyring struct {
	keys map[string]KeyConfig

	mu      sync.Mutex
	masters map[string][]byte            // cache key -> 32-byte master key
	salts   map[string][kdfSaltSize]byte // key id -> argon2 salt for new files
}

// NewKeyring returns a keyring holding keys; ids must be valid and unique.
func NewKeyring(keys ...KeyConfig) (*Keyring, error) {
	kr := &Keyring{
		keys:    make(map[string]KeyConfig, len(keys)),
		masters: make(map[string][]byte),
		salts:   make(map[string][kdfSaltSize]byte),
	}
	for _, k := range keys {
		if err := validKeyID(k.ID); err != nil {
			return nil, err
		}
		if k.Source == nil {
			return nil, fmt.Errorf("key %s: no source", k.ID)
		}
		if _, dup := kr.keys[k.ID]; dup {
			return nil, fmt.Errorf("key %s: listed twice", k.ID)
		}
		if k.Passphrase {
			if k.Argon2 == (Argon2Params{}) {
				k.Argon2 = DefaultArgon2()
			}
			if err := k.Argon2.validate(); err != nil {
				return nil, fmt.Errorf("key %s: %w", k.ID, err)
			}
		}
		kr.keys[k.ID] = k
	}
	return kr, nil
}

// IDs returns the key ids in sorted order.
func (kr *Keyring) IDs() []string {
	ids := make([]string, 0, len(kr.keys))
	for id := range kr.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Close zeroes every cached key. The keyring must not be used afterwards.
func (kr *Keyring) Close() {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	for k, m := range kr.masters {
		clear(m)
		delete(kr.masters, k)
	}
}

// newHeader builds the header for a new file encrypted under keyID.
func (kr *Keyring) newHeader(random io.Reader, keyID string, chunkSize int) (*Header, error) {
	k, err := kr.lookup(keyID)
	if err != nil {
		return nil, err
	}
	if !k.Passphrase {
		return newHeader(random, keyID, chunkSize, KDFNone, Argon2Params{}, [kdfSaltSize]byte{})
	}
	kr.mu.Lock()
	salt, ok := kr.salts[keyID]
	if !ok {
		if _, err := io.ReadFull(random, salt[:]); err != nil {
			kr.mu.Unlock()
			return nil, fmt.Errorf("generating argon2 salt: %w", err)
		}
		kr.salts[keyID] = salt
	}
	kr.mu.Unlock()
	return newHeader(random, keyID, chunkSize, KDFArgon2id, k.Argon2, salt)
}

func (kr *Keyring) lookup(keyID string) (KeyConfig, error) {
	k, ok := kr.keys[keyID]
	if !ok {
		return KeyConfig{}, fmt.Errorf("%w %q (keyring holds: %s)", ErrUnknownKeyID, keyID, strings.Join(kr.IDs(), ", "))
	}
	return k, nil
}

// fileKey returns the per-file AES-256 key for h. The caller zeroes it.
func (kr *Keyring) fileKey(ctx context.Context, h *Header) ([]byte, error) {
	master, err := kr.master(ctx, h)
	if err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, master, h.FileSalt[:], fileKeyInfo, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving file key: %w", err)
	}
	return key, nil
}

// master returns the cached master key for the header's key id and KDF
// parameters, fetching and deriving it on first use. The returned slice
// belongs to the keyring.
func (kr *Keyring) master(ctx context.Context, h *Header) ([]byte, error) {
	k, err := kr.lookup(h.KeyID)
	if err != nil {
		return nil, err
	}
	if k.Passphrase != (h.KDF == KDFArgon2id) {
		return nil, fmt.Errorf("key %s: the file was encrypted with a %s but the keyring holds a %s",
			h.KeyID, kdfName(h.KDF), kdfName(kindOf(k)))
	}
	cacheKey := h.KeyID
	if h.KDF == KDFArgon2id {
		cacheKey = fmt.Sprintf("%s/%d/%d/%d/%x", h.KeyID, h.Argon2.Time, h.Argon2.MemoryKiB, h.Argon2.Threads, h.KDFSalt)
	}
	// Holding the lock while fetching serialises key commands and argon2
	// runs, which is what we want: each runs once.
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if m, ok := kr.masters[cacheKey]; ok {
		return m, nil
	}
	material, err := k.Source.Key(ctx, h.KeyID)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", h.KeyID, err)
	}
	defer clear(material)
	var m []byte
	if h.KDF == KDFArgon2id {
		pass := bytes.TrimRight(material, "\r\n")
		if len(pass) == 0 {
			return nil, fmt.Errorf("key %s: %w: empty passphrase", h.KeyID, ErrBadKey)
		}
		p := h.Argon2
		m = argon2.IDKey(pass, h.KDFSalt[:], p.Time, p.MemoryKiB, p.Threads, 32)
	} else if m, err = ParseKey(material); err != nil {
		return nil, fmt.Errorf("key %s: %w", h.KeyID, err)
	}
	kr.masters[cacheKey] = m
	return m, nil
}

func kindOf(k KeyConfig) KDF {
	if k.Passphrase {
		return KDFArgon2id
	}
	return KDFNone
}

func kdfName(k KDF) string {
	if k == KDFArgon2id {
		return "passphrase (argon2id)"
	}
	return "raw key"
}
