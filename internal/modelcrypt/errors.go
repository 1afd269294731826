package modelcrypt

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers test them with errors.Is; the wrapped message says
// which file, chunk or field failed.
var (
	// ErrFormat means the input is not a dsgate encrypted model file or its
	// header is malformed.
	ErrFormat = errors.New("not a dsgate encrypted file or malformed header")
	// ErrVersion means the header names a format version this build cannot read.
	ErrVersion = errors.New("unsupported format version")
	// ErrAuth means a chunk failed authentication: wrong key, or the header
	// or data was modified, reordered or spliced from another file.
	ErrAuth = errors.New("authentication failed")
	// ErrTruncated means the stream ended before its final chunk.
	ErrTruncated = errors.New("file is truncated")
	// ErrTrailingData means bytes follow the final chunk.
	ErrTrailingData = errors.New("data after the final chunk")
	// ErrUnknownKeyID means the header names a key id the keyring does not hold.
	ErrUnknownKeyID = errors.New("unknown key id")
	// ErrBadKey means key material could not be parsed into a 32-byte key.
	ErrBadKey = errors.New("invalid key")
	// ErrTooLarge means the plaintext needs more than 2^32-1 chunks.
	ErrTooLarge = errors.New("too many chunks for the chunk size")
)

// ChunkError reports which chunk of a stream failed and why.
type ChunkError struct {
	Index uint32 // chunk index, from 0
	Last  bool   // the chunk was read as the last one in the stream
	Err   error  // one of ErrAuth, ErrTruncated, ErrTrailingData
}

func (e *ChunkError) Error() string {
	hint := ""
	switch {
	case errors.Is(e.Err, ErrAuth) && e.Index == 0:
		hint = " (wrong key, or the header or data was modified)"
	case errors.Is(e.Err, ErrAuth) && e.Last:
		hint = " (data modified, or the file was cut inside this chunk)"
	case errors.Is(e.Err, ErrAuth):
		hint = " (data modified, chunks reordered, or spliced from another file)"
	}
	return fmt.Sprintf("chunk %d: %v%s", e.Index, e.Err, hint)
}

func (e *ChunkError) Unwrap() error { return e.Err }
