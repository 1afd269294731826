package modelcrypt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"
)

// testKey is a fixed, non-printable 32-byte key.
func testKey(seed byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = seed ^ byte(i*7+1) | 0x80
	}
	return k
}

func testKeyring(t testing.TB, keys ...KeyConfig) *Keyring {
	t.Helper()
	if len(keys) == 0 {
		keys = []KeyConfig{{ID: "k1", Source: StaticSource(testKey(1))}}
	}
	kr, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kr.Close)
	return kr
}

func testCodec(t testing.TB, kr *Keyring, o Options) *Codec {
	t.Helper()
	c, err := New(kr, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pattern is a deterministic, cheap plaintext generator: byte i of the
// stream depends on i, so any misplaced chunk shows.
type pattern struct{ off, n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := range b {
		b[i] = patternByte(p.off + int64(i))
	}
	p.off += int64(len(b))
	return len(b), nil
}

func patternByte(i int64) byte { return byte(i*131 + i>>9 + i>>17) }

func patternBytes(n int) []byte {
	b := make([]byte, n)
	p := &pattern{n: int64(n)}
	io.ReadFull(p, b)
	return b
}

func encryptBytes(t testing.TB, c *Codec, plain []byte, keyID string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Encrypt(context.Background(), &buf, bytes.NewReader(plain), keyID); err != nil {
		t.Fatalf("encrypt: %v", err)
	}
	return buf.Bytes()
}

func TestRoundTripSizes(t *testing.T) {
	t.Parallel()
	kr := testKeyring(t)
	const chunk = 64
	sizes := []int{0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 3*chunk + 5, 1000}
	for _, workers := range []int{1, 3} {
		c := testCodec(t, kr, Options{ChunkSize: chunk, Workers: workers})
		for _, n := range sizes {
			t.Run(fmt.Sprintf("workers=%d/size=%d", workers, n), func(t *testing.T) {
				plain := patternBytes(n)
				enc := encryptBytes(t, c, plain, "k1")
				chunks := max(1, (n+chunk-1)/chunk)
				if want := len(encHeader(t, enc).raw) + n + chunks*tagSize; len(enc) != want {
					t.Errorf("ciphertext is %d bytes, want %d", len(enc), want)
				}
				var out bytes.Buffer
				if _, err := c.Decrypt(context.Background(), &out, bytes.NewReader(enc)); err != nil {
					t.Fatalf("decrypt: %v", err)
				}
				if !bytes.Equal(out.Bytes(), plain) {
					t.Fatal("round trip changed the data")
				}
			})
		}
	}
}

func TestRoundTripDefaultChunk(t *testing.T) {
	t.Parallel()
	kr := testKeyring(t)
	c := testCodec(t, kr, Options{})
	plain := patternBytes(3*DefaultChunkSize + 7)
	enc := encryptBytes(t, c, plain, "k1")
	var out bytes.Buffer
	if _, err := c.Decrypt(context.Background(), &out, bytes.NewReader(enc)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), plain) {
		t.Fatal("round trip changed the data")
	}
}

func encHeader(t testing.TB, enc []byte) *Header {
	t.Helper()
	h, err := ReadHeader(bytes.NewReader(enc))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestEncryptionIsRandomised(t *testing.T) {
	t.Parallel()
	c := testCodec(t, testKeyring(t), Options{ChunkSize: 64})
	plain := patternBytes(100)
	a, b := encryptBytes(t, c, plain, "k1"), encryptBytes(t, c, plain, "k1")
	if bytes.Equal(a, b) {
		t.Fatal("two encryptions of the same plaintext are identical")
	}
	if bytes.Contains(a, plain[:32]) {
		t.Fatal("ciphertext contains plaintext")
	}
}

func TestProgressCountsInput(t *testing.T) {
	t.Parallel()
	var got int64
	c := testCodec(t, testKeyring(t), Options{ChunkSize: 64, Progress: func(n int64) { got += n }})
	enc := encryptBytes(t, c, patternBytes(1000), "k1")
	if got != int64(1000+len(encHeader(t, enc).raw)) {
		t.Errorf("encrypt progress %d, want %d", got, 1000+len(encHeader(t, enc).raw))
	}
	got = 0
	if _, err := c.Decrypt(context.Background(), io.Discard, bytes.NewReader(enc)); err != nil {
		t.Fatal(err)
	}
	if got != int64(len(enc)) {
		t.Errorf("decrypt progress %d, want %d", got, len(enc))
	}
}

// tamperCase mutates a valid ciphertext of plainSize bytes in 64-byte chunks.
type tamperCase struct {
	name   string
	mutate func(enc []byte, hdr int) []byte
	keys   []KeyConfig // keyring used to decrypt; nil means the encrypting one
	want   error
}

const tamperChunk = 64

func chunkAt(hdr, i int) int { return hdr + i*(tamperChunk+tagSize) }

func tamperCases() []tamperCase {
	flip := func(off func(enc []byte, hdr int) int) func([]byte, int) []byte {
		return func(enc []byte, hdr int) []byte { enc[off(enc, hdr)] ^= 0x04; return enc }
	}
	return []tamperCase{
		{"flip magic", flip(func(_ []byte, _ int) int { return 1 }), nil, ErrFormat},
		{"flip version", flip(func(_ []byte, _ int) int { return 8 }), nil, ErrVersion},
		{"flip chunk size", flip(func(_ []byte, _ int) int { return 12 }), nil, ErrAuth},
		{"flip nonce prefix", flip(func(_ []byte, _ int) int { return 15 }), nil, ErrAuth},
		{"flip file salt", flip(func(_ []byte, _ int) int { return 40 }), nil, ErrAuth},
		{"flip key id", flip(func(_ []byte, _ int) int { return 54 }), nil, ErrUnknownKeyID},
		{"flip body first chunk", flip(func(_ []byte, h int) int { return h + 3 }), nil, ErrAuth},
		{"flip body middle chunk", flip(func(_ []byte, h int) int { return chunkAt(h, 2) + 10 }), nil, ErrAuth},
		{"flip tag", flip(func(_ []byte, h int) int { return chunkAt(h, 1) + tamperChunk + 3 }), nil, ErrAuth},
		{"flip last byte", flip(func(e []byte, _ int) int { return len(e) - 1 }), nil, ErrAuth},
		{"truncate at chunk boundary", func(e []byte, h int) []byte { return e[:chunkAt(h, 2)] }, nil, ErrTruncated},
		{"truncate mid chunk", func(e []byte, h int) []byte { return e[:chunkAt(h, 2)+30] }, nil, ErrAuth},
		{"truncate inside tag", func(e []byte, h int) []byte { return e[:chunkAt(h, 2)+5] }, nil, ErrTruncated},
		{"truncate to header", func(e []byte, h int) []byte { return e[:h] }, nil, ErrTruncated},
		{"truncate inside header", func(e []byte, h int) []byte { return e[:h-3] }, nil, ErrFormat},
		{"empty input", func(e []byte, h int) []byte { return e[:0] }, nil, ErrFormat},
		{"drop final chunk", func(e []byte, h int) []byte { return e[:chunkAt(h, 3)] }, nil, ErrTruncated},
		{"drop middle chunk", func(e []byte, h int) []byte {
			return append(e[:chunkAt(h, 1):chunkAt(h, 1)], e[chunkAt(h, 2):]...)
		}, nil, ErrAuth},
		{"reorder two chunks", func(e []byte, h int) []byte {
			a := bytes.Clone(e[chunkAt(h, 0):chunkAt(h, 1)])
			copy(e[chunkAt(h, 0):], e[chunkAt(h, 1):chunkAt(h, 2)])
			copy(e[chunkAt(h, 1):], a)
			return e
		}, nil, ErrAuth},
		{"duplicate a chunk", func(e []byte, h int) []byte {
			return append(e[:chunkAt(h, 2):chunkAt(h, 2)], e[chunkAt(h, 1):]...)
		}, nil, ErrAuth},
		{"append data", func(e []byte, h int) []byte { return append(e, 1, 2, 3) }, nil, ErrAuth},
		{"append empty final chunk", func(e []byte, h int) []byte { return append(e, make([]byte, tagSize)...) }, nil, ErrAuth},
		{"wrong key", func(e []byte, _ int) []byte { return e }, []KeyConfig{{ID: "k1", Source: StaticSource(testKey(2))}}, ErrAuth},
		{"wrong key id", func(e []byte, _ int) []byte { return e }, []KeyConfig{{ID: "k2", Source: StaticSource(testKey(1))}}, ErrUnknownKeyID},
		{"raw key file read as passphrase", func(e []byte, _ int) []byte { return e }, []KeyConfig{{ID: "k1", Source: StaticSource(testKey(1)), Passphrase: true}}, nil},
	}
}

// tamperPlainSize makes 3 full chunks and a short final one.
const tamperPlainSize = 3*tamperChunk + 20

func TestTamperingDetected(t *testing.T) {
	t.Parallel()
	kr := testKeyring(t)
	c := testCodec(t, kr, Options{ChunkSize: tamperChunk})
	plain := patternBytes(tamperPlainSize)
	for _, tc := range tamperCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			enc := encryptBytes(t, c, plain, "k1")
			bad := tc.mutate(enc, len(encHeader(t, enc).raw))
			dec := c
			if tc.keys != nil {
				dec = testCodec(t, testKeyring(t, tc.keys...), Options{})
			}
			var out bytes.Buffer
			_, err := dec.Decrypt(context.Background(), &out, bytes.NewReader(bad))
			if err == nil {
				t.Fatal("tampered input decrypted without error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %q, want %v", err, tc.want)
			}
			if !bytes.HasPrefix(plain, out.Bytes()) {
				t.Error("decrypt wrote bytes that are not an authentic prefix")
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestChunkCountLimit(t *testing.T) {
	// The index is 32 bits; readChunks must refuse to wrap it. Check the
	// boundary arithmetic on the nonce directly instead of writing 256 GiB.
	var n [12]byte
	var prefix [noncePrefixSize]byte
	chunkNonce(&n, &prefix, maxChunks, true)
	if got := binary.BigEndian.Uint32(n[7:11]); got != maxChunks || n[11] != 1 {
		t.Fatalf("nonce for last index = %x", n)
	}
}

func TestDecryptCancelled(t *testing.T) {
	t.Parallel()
	c := testCodec(t, testKeyring(t), Options{ChunkSize: 64})
	enc := encryptBytes(t, c, patternBytes(10000), "k1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Decrypt(ctx, io.Discard, bytes.NewReader(enc)); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	kr := testKeyring(t)
	for _, cs := range []int{1, MinChunkSize - 1, MaxChunkSize + 1} {
		if _, err := New(kr, Options{ChunkSize: cs}); err == nil {
			t.Errorf("chunk size %d accepted", cs)
		}
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("nil keyring accepted")
	}
}

// Regression test: after a failed stream, recycled buffers once carried a
// stale "done" signal into the next stream on the same Codec, which then
// wrote a result before the worker produced it.
func TestCodecReusableAfterFailure(t *testing.T) {
	t.Parallel()
	c := testCodec(t, testKeyring(t), Options{ChunkSize: 64, Workers: 3})
	plain := patternBytes(2000)
	enc := encryptBytes(t, c, plain, "k1")
	bad := bytes.Clone(enc)
	bad[len(bad)/2] ^= 1
	for i := range 50 {
		if _, err := c.Decrypt(context.Background(), io.Discard, bytes.NewReader(bad)); err == nil {
			t.Fatal("tampered input accepted")
		}
		var out bytes.Buffer
		if _, err := c.Decrypt(context.Background(), &out, bytes.NewReader(enc)); err != nil || !bytes.Equal(out.Bytes(), plain) {
			t.Fatalf("round %d: valid decrypt after a failed one: %v", i, err)
		}
	}
}
