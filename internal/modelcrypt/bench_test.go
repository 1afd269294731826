package modelcrypt

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
)

// benchPayload is the plaintext size of one benchmark operation.
const benchPayload = 64 << 20

func benchCases() []Options {
	return []Options{
		{Workers: 1},
		{Workers: 2},
		{Workers: 2, ChunkSize: 64 << 10},
		{Workers: 2, ChunkSize: 4 << 20},
	}
}

func benchName(o Options) string {
	cs := o.ChunkSize
	if cs == 0 {
		cs = DefaultChunkSize
	}
	return fmt.Sprintf("chunk=%dKiB/workers=%d", cs>>10, o.Workers)
}

// BenchmarkEncrypt measures Encrypt from memory to io.Discard, so it shows
// the crypto pipeline's ceiling without disk I/O.
func BenchmarkEncrypt(b *testing.B) {
	plain := patternBytes(benchPayload)
	for _, o := range benchCases() {
		b.Run(benchName(o), func(b *testing.B) {
			c := testCodec(b, testKeyring(b), o)
			r := bytes.NewReader(plain)
			b.SetBytes(benchPayload)
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(plain)
				if err := c.Encrypt(context.Background(), io.Discard, r, "k1"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecrypt measures Decrypt from memory to io.Discard.
func BenchmarkDecrypt(b *testing.B) {
	plain := patternBytes(benchPayload)
	for _, o := range benchCases() {
		b.Run(benchName(o), func(b *testing.B) {
			c := testCodec(b, testKeyring(b), o)
			enc := encryptBytes(b, c, plain, "k1")
			r := bytes.NewReader(enc)
			b.SetBytes(benchPayload)
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(enc)
				if _, err := c.Decrypt(context.Background(), io.Discard, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
