package modelcrypt

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// FuzzDecrypt feeds arbitrary bytes to Decrypt. Seeds are valid files of
// several sizes, so the fuzzer mutates real headers and chunks. Decrypt must
// never panic; every byte it writes must be authentic (a prefix of the
// plaintext the seeds were made from); and it may succeed only on an
// unmodified seed.
func FuzzDecrypt(f *testing.F) {
	kr, err := NewKeyring(
		KeyConfig{ID: "k1", Source: StaticSource(testKey(1))},
		KeyConfig{ID: "pp", Source: StaticSource("pass"), Passphrase: true, Argon2: Argon2Params{Time: 1, MemoryKiB: 8 << 10, Threads: 1}},
	)
	if err != nil {
		f.Fatal(err)
	}
	defer kr.Close()
	c, err := New(kr, Options{ChunkSize: MinChunkSize, Workers: 2})
	if err != nil {
		f.Fatal(err)
	}
	// Fuzz workers rerun this setup in their own processes; a seeded
	// generator makes them produce the very same seed files.
	c.rand = rand.NewChaCha8([32]byte{1})
	const maxPlain = 4*MinChunkSize + 3
	plain := patternBytes(maxPlain)
	seeds := map[string]bool{}
	for _, n := range []int{0, 1, MinChunkSize, 2*MinChunkSize + 1, maxPlain} {
		for _, id := range []string{"k1", "pp"} {
			var buf bytes.Buffer
			if err := c.Encrypt(context.Background(), &buf, bytes.NewReader(plain[:n]), id); err != nil {
				f.Fatal(err)
			}
			seeds[buf.String()] = true
			f.Add(buf.Bytes())
		}
	}
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		_, err := c.Decrypt(context.Background(), &out, bytes.NewReader(data))
		if !bytes.HasPrefix(plain, out.Bytes()) {
			t.Fatalf("Decrypt wrote %d bytes that are not authentic plaintext (err %v)", out.Len(), err)
		}
		if err == nil && !seeds[string(data)] {
			t.Fatalf("modified input of %d bytes decrypted without error", len(data))
		}
		if err != nil && seeds[string(data)] {
			t.Fatalf("valid seed failed: %v", err)
		}
		var ce *ChunkError
		if errors.As(err, &ce) && ce.Err == nil {
			t.Fatal("ChunkError without cause")
		}
	})
}
