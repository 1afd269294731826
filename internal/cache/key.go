package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// keyDomain versions the key derivation; change it when the canonical
// encoding changes so old entries are never read with a new meaning.
const keyDomain = "dsgate/cache/key/v1\n"

// Key identifies one cached answer: a SHA-256 digest of the request.
type Key [32]byte

// String returns the key as lowercase hex.
func (k Key) String() string { return hex.EncodeToString(k[:]) }

// KeyParts are the inputs to a key that are not in the request body.
type KeyParts struct {
	// PublicModel is the model name the client asked for.
	PublicModel string
	// UpstreamModel is the resolved upstream model name.
	UpstreamModel string
	// ModelVersion identifies the weights or snapshot behind UpstreamModel;
	// bump it to invalidate every answer of a model.
	ModelVersion string
	// Scope isolates entries: by default the client (principal) ID; a fixed
	// string such as "shared" when the configuration shares the cache.
	Scope string
}

// DeriveKey returns the cache key of a request body sent to endpoint (a
// logical route name such as "chat.completions", "completions" or
// "embeddings"; callers must pass the same name for /v1/x and /x). The same
// request always gives the same key, across processes and versions of Go:
// key order, whitespace, number spelling and string escapes do not matter,
// and top-level fields that do not change the output are left out.
func DeriveKey(endpoint string, body []byte, k KeyParts) (Key, error) {
	// Hash input: domain, the length-prefixed parts (so "ab"+"c" and
	// "a"+"bc" differ), then the canonical body; one buffer, one Sum256.
	buf := make([]byte, 0, len(keyDomain)+len(body)+64+len(endpoint)+len(k.Scope)+
		len(k.PublicModel)+len(k.UpstreamModel)+len(k.ModelVersion))
	buf = append(buf, keyDomain...)
	for _, s := range [...]string{endpoint, k.Scope, k.PublicModel, k.UpstreamModel, k.ModelVersion} {
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	buf, err := canonicalize(buf, body)
	if err != nil {
		return Key{}, fmt.Errorf("canonicalizing request: %w", err)
	}
	return sha256.Sum256(buf), nil
}

// ParseKey parses the hex form produced by Key.String.
func ParseKey(s string) (Key, error) {
	var k Key
	if hex.DecodedLen(len(s)) != len(k) {
		return k, fmt.Errorf("cache key %q: want %d hex characters", s, 2*len(k))
	}
	if _, err := hex.Decode(k[:], []byte(s)); err != nil {
		return k, fmt.Errorf("cache key %q: %w", s, err)
	}
	return k, nil
}
