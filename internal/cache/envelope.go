package cache

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// The envelope is how remote and disk tiers store an Entry:
//
//	"DSGC" | version (1 byte) | created, expires (varint Unix ns; 0 = none)
//	| model (uvarint length + bytes) | 5 usage counters (varint)
//	| body (uvarint length + bytes) | chunk count (uvarint)
//	| each chunk (uvarint length + bytes) | CRC-32C of all before (4 bytes LE)
//
// A reader refuses other versions (a miss, not a crash), so the format can
// change by bumping envelopeVersion.
const (
	envelopeMagic   = "DSGC"
	envelopeVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// MarshalEntry encodes e with its expiry time (zero = never) into the
// versioned envelope.
func MarshalEntry(e Entry, expiresAt time.Time) []byte {
	n := len(envelopeMagic) + 1 + 2*binary.MaxVarintLen64 + len(e.Model) + 5*binary.MaxVarintLen64 +
		len(e.Body) + 3*binary.MaxVarintLen64 + 4
	for _, c := range e.Chunks {
		n += len(c) + binary.MaxVarintLen64
	}
	b := make([]byte, 0, n)
	b = append(b, envelopeMagic...)
	b = append(b, envelopeVersion)
	b = binary.AppendVarint(b, unixNano(e.CreatedAt))
	b = binary.AppendVarint(b, unixNano(expiresAt))
	b = appendBytes(b, []byte(e.Model))
	for _, v := range [...]int64{e.Usage.PromptTokens, e.Usage.CompletionTokens, e.Usage.TotalTokens,
		e.Usage.ReasoningTokens, e.Usage.CachedTokens} {
		b = binary.AppendVarint(b, v)
	}
	b = appendBytes(b, e.Body)
	b = binary.AppendUvarint(b, uint64(len(e.Chunks)))
	for _, c := range e.Chunks {
		b = appendBytes(b, c)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// UnmarshalEntry decodes an envelope. The returned Body and Chunks alias b,
// so b must not be modified or reused afterwards. Errors wrap ErrCorrupt.
func UnmarshalEntry(b []byte) (Entry, error) {
	var e Entry
	if len(b) < len(envelopeMagic)+1+4 || string(b[:len(envelopeMagic)]) != envelopeMagic {
		return e, fmt.Errorf("bad envelope header: %w", ErrCorrupt)
	}
	if v := b[len(envelopeMagic)]; v != envelopeVersion {
		return e, fmt.Errorf("envelope version %d: %w", v, ErrCorrupt)
	}
	payload, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(payload, castagnoli) != sum {
		return e, fmt.Errorf("envelope checksum mismatch: %w", ErrCorrupt)
	}
	r := envelopeReader{b: payload[len(envelopeMagic)+1:]}
	e.CreatedAt = fromUnixNano(r.varint())
	e.ExpiresAt = fromUnixNano(r.varint())
	e.Model = string(r.bytes())
	e.Usage = Usage{r.varint(), r.varint(), r.varint(), r.varint(), r.varint()}
	e.Body = r.bytes()
	if n := r.uvarint(); n > 0 && r.err == nil {
		if n > uint64(len(r.b)) {
			return Entry{}, fmt.Errorf("chunk count %d: %w", n, ErrCorrupt)
		}
		e.Chunks = make([][]byte, n)
		for i := range e.Chunks {
			e.Chunks[i] = r.bytes()
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return Entry{}, fmt.Errorf("envelope truncated or padded: %w", ErrCorrupt)
	}
	return e, nil
}

// EnvelopeExpiresAt reads only the expiry of an envelope, for sweeps that
// must not decode every body. ok is false for a corrupt envelope.
func EnvelopeExpiresAt(b []byte) (expiresAt time.Time, ok bool) {
	if len(b) < len(envelopeMagic)+1+4 || string(b[:len(envelopeMagic)]) != envelopeMagic ||
		b[len(envelopeMagic)] != envelopeVersion {
		return time.Time{}, false
	}
	r := envelopeReader{b: b[len(envelopeMagic)+1:]}
	r.varint()
	exp := r.varint()
	return fromUnixNano(exp), r.err == nil
}

func appendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// envelopeReader reads fields in order and remembers the first error.
type envelopeReader struct {
	b   []byte
	err error
}

func (r *envelopeReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *envelopeReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *envelopeReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *envelopeReader) fail() {
	if r.err == nil {
		r.err = ErrCorrupt
	}
	r.b = nil
}
