package modelcrypt

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o640); err != nil {
		t.Fatal(err)
	}
}

// dirNames lists the entries of dir, hidden temporary files included.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestFileRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	c := testCodec(t, testKeyring(t), Options{ChunkSize: 4096})
	plain := patternBytes(3*4096 + 1)
	writeFile(t, filepath.Join(dir, "m.safetensors"), plain)
	ctx := context.Background()

	enc, dec := filepath.Join(dir, "m.safetensors.dsenc"), filepath.Join(dir, "out", "m.safetensors")
	if err := c.EncryptFile(ctx, enc, filepath.Join(dir, "m.safetensors"), "k1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyFile(ctx, enc); err != nil {
		t.Fatalf("verify: %v", err)
	}
	os.Mkdir(filepath.Join(dir, "out"), 0o755)
	if err := c.DecryptFile(ctx, dec, enc); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dec)
	if !bytes.Equal(got, plain) {
		t.Fatal("round trip changed the data")
	}
	if st, _ := os.Stat(dec); st.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the source's 0640", st.Mode().Perm())
	}
	if err := c.DecryptFile(ctx, dec, enc); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second decrypt without overwrite: %v, want ErrExist", err)
	}
	if err := c.DecryptFile(ctx, enc, enc); err == nil {
		t.Error("decrypting a file onto itself was accepted")
	}
	over := testCodec(t, testKeyring(t), Options{Overwrite: true})
	if err := over.DecryptFile(ctx, dec, enc); err != nil {
		t.Errorf("decrypt with overwrite: %v", err)
	}
}

// TestDecryptFileTamperedLeavesNothing runs every tampering case through
// DecryptFile: each must fail and leave no output and no temporary file.
func TestDecryptFileTamperedLeavesNothing(t *testing.T) {
	t.Parallel()
	kr := testKeyring(t)
	c := testCodec(t, kr, Options{ChunkSize: tamperChunk})
	plain := patternBytes(tamperPlainSize)
	for _, tc := range tamperCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in, out := t.TempDir(), t.TempDir()
			enc := encryptBytes(t, c, plain, "k1")
			writeFile(t, filepath.Join(in, "x.dsenc"), tc.mutate(enc, len(encHeader(t, enc).raw)))
			dec := c
			if tc.keys != nil {
				dec = testCodec(t, testKeyring(t, tc.keys...), Options{})
			}
			err := dec.DecryptFile(context.Background(), filepath.Join(out, "x"), filepath.Join(in, "x.dsenc"))
			if err == nil {
				t.Fatal("tampered file decrypted without error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %q, want %v", err, tc.want)
			}
			if names := dirNames(t, out); len(names) != 0 {
				t.Errorf("output directory holds %v after a failed decrypt", names)
			}
			if _, err := dec.VerifyFile(context.Background(), filepath.Join(in, "x.dsenc")); err == nil {
				t.Error("verify accepted the tampered file")
			}
		})
	}
}

func TestTreeRoundTrip(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	src, enc, dec := filepath.Join(root, "model"), filepath.Join(root, "enc"), filepath.Join(root, "dec")
	files := map[string][]byte{
		"config.json":                       []byte(`{"model_type":"deepseek_v3"}`),
		"model-00001-of-00002.safetensors":  patternBytes(70000),
		"model-00002-of-00002.safetensors":  patternBytes(1),
		"tokenizer/tokenizer.json":          patternBytes(5000),
		"tokenizer/empty.txt":               nil,
		"deep/er/still/generation_config.j": patternBytes(64),
	}
	for name, data := range files {
		writeFile(t, filepath.Join(src, name), data)
	}
	// A Hugging Face snapshot links files into a blob store.
	writeFile(t, filepath.Join(root, "blobs", "abc"), []byte("linked"))
	if err := os.Symlink(filepath.Join(root, "blobs", "abc"), filepath.Join(src, "linked.txt")); err != nil {
		t.Fatal(err)
	}
	files["linked.txt"] = []byte("linked")

	ctx := context.Background()
	c := testCodec(t, testKeyring(t), Options{ChunkSize: 4096})
	if err := c.EncryptTree(ctx, enc, src, "k1"); err != nil {
		t.Fatal(err)
	}
	for name := range files {
		if _, err := os.Stat(filepath.Join(enc, name+Suffix)); err != nil {
			t.Errorf("encrypted tree lacks %s: %v", name+Suffix, err)
		}
	}
	n, size, err := TreeSize(enc)
	if err != nil || n != len(files) || size == 0 {
		t.Errorf("TreeSize = %d, %d, %v", n, size, err)
	}
	if err := c.VerifyTree(ctx, enc); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := c.DecryptTree(ctx, dec, enc); err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dec, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: round trip changed the data (err %v)", name, err)
		}
	}
	if err := c.EncryptTree(ctx, filepath.Join(src, "enc"), src, "k1"); err == nil {
		t.Error("output inside the input directory was accepted")
	}
}

func TestDecryptTreeStopsAtTamperedFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	src, enc, dec := filepath.Join(root, "model"), filepath.Join(root, "enc"), filepath.Join(root, "dec")
	writeFile(t, filepath.Join(src, "a.bin"), patternBytes(300))
	writeFile(t, filepath.Join(src, "b.bin"), patternBytes(300))
	ctx := context.Background()
	c := testCodec(t, testKeyring(t), Options{ChunkSize: 64})
	if err := c.EncryptTree(ctx, enc, src, "k1"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(enc, "b.bin.dsenc"))
	b[len(b)-1] ^= 1
	writeFile(t, filepath.Join(enc, "b.bin.dsenc"), b)
	err := c.DecryptTree(ctx, dec, enc)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("error %v, want ErrAuth", err)
	}
	if names := dirNames(t, dec); len(names) != 1 || names[0] != "a.bin" {
		t.Errorf("output holds %v, want only the authentic a.bin", names)
	}
	if err := c.VerifyTree(ctx, enc); !errors.Is(err, ErrAuth) {
		t.Errorf("verify: %v, want ErrAuth", err)
	}
	writeFile(t, filepath.Join(enc, "stray.txt"), []byte("x"))
	if err := c.VerifyTree(ctx, enc); err == nil {
		t.Error("verify accepted a file without the suffix")
	}
}
