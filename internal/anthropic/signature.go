package anthropic

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"strings"
)

// sigPrefix marks signatures made by this package.
const sigPrefix = "dsg1"

// Signature is the signature FromChat and Stream give a thinking block with
// text thinking: "dsg1" followed by the unpadded base64url SHA-256 of the
// text. It is a checksum, not a secret: it lets the gateway tell an edited
// thinking block from an intact one when a client sends it back.
func Signature(thinking string) string {
	h := sha256.Sum256([]byte(thinking))
	return sigPrefix + base64.RawURLEncoding.EncodeToString(h[:])
}

// signer computes a Signature incrementally over streamed thinking deltas.
type signer struct{ h hash.Hash }

func (s *signer) write(p string) {
	if s.h == nil {
		s.h = sha256.New()
	}
	s.h.Write([]byte(p))
}

func (s *signer) sum() string {
	if s.h == nil {
		return Signature("")
	}
	var buf [sha256.Size]byte
	sum := s.h.Sum(buf[:0])
	s.h = nil
	return sigPrefix + base64.RawURLEncoding.EncodeToString(sum)
}

// errSignature is returned for a thinking block whose dsg1 signature does
// not match its text.
var errSignature = errors.New("thinking block signature does not match its content")

// checkSignature accepts an empty or foreign signature, and one of ours
// only when it matches thinking.
func checkSignature(thinking, sig string) error {
	if !strings.HasPrefix(sig, sigPrefix) {
		return nil
	}
	if sig != Signature(thinking) {
		return errSignature
	}
	return nil
}
