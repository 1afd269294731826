package modelcrypt

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Format constants; doc.go describes the layout.
const (
	magic   = "\x89DSENC\r\n"
	version = 1

	// DefaultChunkSize is the plaintext chunk size used when Options.ChunkSize is 0.
	DefaultChunkSize = 1 << 20
	// MinChunkSize and MaxChunkSize bound the chunk size a header may declare;
	// the upper bound keeps a hostile header from forcing large allocations.
	MinChunkSize = 64
	MaxChunkSize = 16 << 20

	// Suffix is appended to file names by EncryptTree and stripped by DecryptTree.
	Suffix = ".dsenc"

	tagSize         = 16
	noncePrefixSize = 7
	fileSaltSize    = 32
	kdfSaltSize     = 16
	maxKeyIDLen     = 64
	fixedHeaderSize = 54 // through the key id length byte
	argon2FieldSize = 4 + 4 + 1 + kdfSaltSize
	maxHeaderSize   = fixedHeaderSize + maxKeyIDLen + argon2FieldSize
	maxChunks       = 1<<32 - 1
)

// KDF says how the master key is obtained from the key source's output.
type KDF uint8

const (
	// KDFNone means the key source yields the 32-byte key itself.
	KDFNone KDF = 0
	// KDFArgon2id means the key source yields a passphrase stretched with argon2id.
	KDFArgon2id KDF = 1
)

// Argon2Params are argon2id cost parameters.
type Argon2Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
}

// DefaultArgon2 returns RFC 9106's second recommended option
// (t=3, m=64 MiB, p=4), used when a passphrase key sets no parameters.
func DefaultArgon2() Argon2Params { return Argon2Params{Time: 3, MemoryKiB: 64 << 10, Threads: 4} }

func (p Argon2Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > 16:
		return fmt.Errorf("argon2id time %d outside 1..16", p.Time)
	case p.MemoryKiB < 8<<10 || p.MemoryKiB > 1<<20:
		return fmt.Errorf("argon2id memory %d KiB outside 8 MiB..1 GiB", p.MemoryKiB)
	case p.Threads < 1 || p.Threads > 16:
		return fmt.Errorf("argon2id threads %d outside 1..16", p.Threads)
	}
	return nil
}

// Header is a decoded file header.
type Header struct {
	KeyID       string
	ChunkSize   int
	NoncePrefix [noncePrefixSize]byte
	FileSalt    [fileSaltSize]byte
	KDF         KDF
	Argon2      Argon2Params      // set when KDF is KDFArgon2id
	KDFSalt     [kdfSaltSize]byte // set when KDF is KDFArgon2id

	raw []byte // the encoded header, used as AAD
}

// newHeader returns a header with fresh random nonce prefix and file salt.
func newHeader(random io.Reader, keyID string, chunkSize int, kdf KDF, p Argon2Params, kdfSalt [kdfSaltSize]byte) (*Header, error) {
	h := &Header{KeyID: keyID, ChunkSize: chunkSize, KDF: kdf, Argon2: p, KDFSalt: kdfSalt}
	if _, err := io.ReadFull(random, h.NoncePrefix[:]); err != nil {
		return nil, fmt.Errorf("generating nonce prefix: %w", err)
	}
	if _, err := io.ReadFull(random, h.FileSalt[:]); err != nil {
		return nil, fmt.Errorf("generating file salt: %w", err)
	}
	raw, err := h.encode()
	if err != nil {
		return nil, err
	}
	h.raw = raw
	return h, nil
}

func (h *Header) encode() ([]byte, error) {
	if err := validKeyID(h.KeyID); err != nil {
		return nil, err
	}
	if h.ChunkSize < MinChunkSize || h.ChunkSize > MaxChunkSize {
		return nil, fmt.Errorf("chunk size %d outside %d..%d", h.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	b := make([]byte, 0, maxHeaderSize)
	b = append(b, magic...)
	b = append(b, version, byte(h.KDF))
	b = binary.BigEndian.AppendUint32(b, uint32(h.ChunkSize))
	b = append(b, h.NoncePrefix[:]...)
	b = append(b, h.FileSalt[:]...)
	b = append(b, byte(len(h.KeyID)))
	b = append(b, h.KeyID...)
	switch h.KDF {
	case KDFNone:
	case KDFArgon2id:
		if err := h.Argon2.validate(); err != nil {
			return nil, err
		}
		b = binary.BigEndian.AppendUint32(b, h.Argon2.Time)
		b = binary.BigEndian.AppendUint32(b, h.Argon2.MemoryKiB)
		b = append(b, h.Argon2.Threads)
		b = append(b, h.KDFSalt[:]...)
	default:
		return nil, fmt.Errorf("unknown kdf %d", h.KDF)
	}
	return b, nil
}

// ReadHeader reads and validates a header from r, consuming exactly its bytes.
func ReadHeader(r io.Reader) (*Header, error) {
	buf := make([]byte, fixedHeaderSize, maxHeaderSize)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, headerReadErr(err)
	}
	if string(buf[:8]) != magic {
		return nil, fmt.Errorf("%w: bad magic", ErrFormat)
	}
	if buf[8] != version {
		return nil, fmt.Errorf("%w %d (this build reads version %d)", ErrVersion, buf[8], version)
	}
	h := &Header{KDF: KDF(buf[9]), ChunkSize: int(binary.BigEndian.Uint32(buf[10:14]))}
	if h.ChunkSize < MinChunkSize || h.ChunkSize > MaxChunkSize {
		return nil, fmt.Errorf("%w: chunk size %d outside %d..%d", ErrFormat, h.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	copy(h.NoncePrefix[:], buf[14:21])
	copy(h.FileSalt[:], buf[21:53])
	n := int(buf[53])
	if n == 0 || n > maxKeyIDLen {
		return nil, fmt.Errorf("%w: key id length %d outside 1..%d", ErrFormat, n, maxKeyIDLen)
	}
	rest := n
	switch h.KDF {
	case KDFNone:
	case KDFArgon2id:
		rest += argon2FieldSize
	default:
		return nil, fmt.Errorf("%w: unknown kdf %d", ErrFormat, h.KDF)
	}
	buf = buf[:fixedHeaderSize+rest]
	if _, err := io.ReadFull(r, buf[fixedHeaderSize:]); err != nil {
		return nil, headerReadErr(err)
	}
	h.KeyID = string(buf[fixedHeaderSize : fixedHeaderSize+n])
	if err := validKeyID(h.KeyID); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	if h.KDF == KDFArgon2id {
		a := buf[fixedHeaderSize+n:]
		h.Argon2 = Argon2Params{
			Time:      binary.BigEndian.Uint32(a[0:4]),
			MemoryKiB: binary.BigEndian.Uint32(a[4:8]),
			Threads:   a[8],
		}
		copy(h.KDFSalt[:], a[9:])
		if err := h.Argon2.validate(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrFormat, err)
		}
	}
	h.raw = buf
	return h, nil
}

func headerReadErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: header is incomplete", ErrFormat)
	}
	return fmt.Errorf("reading header: %w", err)
}

// validKeyID accepts 1..64 characters of [A-Za-z0-9._-].
func validKeyID(id string) error {
	if len(id) == 0 || len(id) > maxKeyIDLen {
		return fmt.Errorf("key id must be 1..%d characters, got %d", maxKeyIDLen, len(id))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("key id %q: only letters, digits, '.', '_' and '-' are allowed", id)
		}
	}
	return nil
}

// chunkNonce fills n with prefix || uint32(index) || final.
func chunkNonce(n *[12]byte, prefix *[noncePrefixSize]byte, index uint32, final bool) {
	copy(n[:noncePrefixSize], prefix[:])
	binary.BigEndian.PutUint32(n[noncePrefixSize:11], index)
	n[11] = 0
	if final {
		n[11] = 1
	}
}
