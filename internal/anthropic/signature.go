package anthropic

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"strings"

	"github.com/dsgate/dsgate/internal/chatwire"
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

// appendSignature appends the Signature of the thinking t (a whole
// block's, read at once) as a JSON string token.
func appendSignature(b []byte, t chatwire.Token) []byte {
	text, _ := t.Text(nil)
	sum := sha256.Sum256(text)
	b = append(b, '"')
	b = append(b, sigPrefix...)
	b = base64.RawURLEncoding.AppendEncode(b, sum[:])
	return append(b, '"')
}

// signer computes a Signature incrementally over streamed thinking deltas.
type signer struct {
	h    hash.Hash
	text []byte   // a delta's decoded text when it has escapes, reused
	sig  [64]byte // room for the signature as a JSON string token
	sum  [sha256.Size]byte
}

// write adds a thinking delta's decoded text.
func (s *signer) write(t chatwire.Token) {
	if s.h == nil {
		s.h = sha256.New()
	}
	var text []byte
	text, s.text = t.Text(s.text[:0])
	s.h.Write(text)
}

// token is the signature of the text written so far, as a JSON string
// token (valid until the next call); it starts the next signature.
func (s *signer) token() chatwire.Token {
	var sum []byte
	if s.h == nil {
		s.sum = sha256.Sum256(nil)
		sum = s.sum[:]
	} else {
		sum = s.h.Sum(s.sum[:0])
		s.h.Reset()
	}
	b := append(s.sig[:0], '"')
	b = append(b, sigPrefix...)
	b = base64.RawURLEncoding.AppendEncode(b, sum)
	return append(b, '"')
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
