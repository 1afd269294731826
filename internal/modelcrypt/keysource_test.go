package modelcrypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := testKey(9)
	tests := []struct {
		name  string
		in    []byte
		valid bool
	}{
		{"raw", key, true},
		{"hex", []byte(hex.EncodeToString(key)), true},
		{"hex with newline", []byte(hex.EncodeToString(key) + "\n"), true},
		{"base64", []byte(base64.StdEncoding.EncodeToString(key)), true},
		{"base64 raw url", []byte(base64.RawURLEncoding.EncodeToString(key) + "\r\n"), true},
		{"32 printable chars", []byte(strings.Repeat("a", 32)), false},
		{"short", key[:31], false},
		{"hex of 16 bytes", []byte(hex.EncodeToString(key[:16])), false},
		{"base64 of 31 bytes", []byte(base64.StdEncoding.EncodeToString(key[:31])), false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey(tt.in)
			if !tt.valid {
				if !errors.Is(err, ErrBadKey) {
					t.Fatalf("err = %v, want ErrBadKey", err)
				}
				if strings.Contains(err.Error(), string(tt.in)) && len(tt.in) > 0 {
					t.Fatal("error message contains the key material")
				}
				return
			}
			if err != nil || !bytes.Equal(got, key) {
				t.Fatalf("ParseKey = %x, %v", got, err)
			}
		})
	}
}

func TestFileAndEnvSources(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key")
	os.WriteFile(path, []byte("material\n"), 0o600)
	got, err := FileSource{Path: path}.Key(context.Background(), "x")
	if err != nil || string(got) != "material\n" {
		t.Fatalf("file source = %q, %v", got, err)
	}
	if _, err := (FileSource{Path: path + ".missing"}).Key(context.Background(), "x"); err == nil {
		t.Error("missing key file accepted")
	}
	env := EnvSource{Name: "K", LookupEnv: func(k string) (string, bool) { return map[string]string{"K": "v"}[k], k == "K" }}
	if got, err := env.Key(context.Background(), "x"); err != nil || string(got) != "v" {
		t.Fatalf("env source = %q, %v", got, err)
	}
	env.Name = "UNSET"
	if _, err := env.Key(context.Background(), "x"); err == nil {
		t.Error("unset variable accepted")
	}
}

func TestCommandSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hexKey := hex.EncodeToString(testKey(3))
	path := filepath.Join(t.TempDir(), "key")
	os.WriteFile(path, []byte(hexKey), 0o600)

	got, err := CommandSource{Argv: []string{"cat", path}}.Key(ctx, "k1")
	if err != nil || string(got) != hexKey {
		t.Fatalf("cat = %q, %v", got, err)
	}
	// Without a shell, metacharacters are plain arguments.
	if _, err := (CommandSource{Argv: []string{"cat", path + ";true"}}).Key(ctx, "k1"); err == nil {
		t.Error("argument was interpreted by a shell")
	}
	got, err = CommandSource{Argv: []string{`printf %s "$DSGATE_KEY_ID"`}, Shell: "/bin/sh"}.Key(ctx, "rot-2")
	if err != nil || string(got) != "rot-2" {
		t.Fatalf("shell command = %q, %v", got, err)
	}
	_, err = CommandSource{Argv: []string{"echo oops >&2; exit 3"}, Shell: "/bin/sh"}.Key(ctx, "k1")
	if err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("failing command: %v, want its stderr in the error", err)
	}
	// The command would run for an hour: only the 100ms timeout (killing
	// it) lets Key return, so a broken timeout hangs the test.
	_, err = CommandSource{Argv: []string{"sleep", "3600"}, Timeout: 100 * time.Millisecond}.Key(ctx, "k1")
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("slow command: %v, want a timeout", err)
	}
}

func TestKeyringRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	oldKR := testKeyring(t, KeyConfig{ID: "2025", Source: StaticSource(testKey(1))})
	old := testCodec(t, oldKR, Options{ChunkSize: 64})
	plain := patternBytes(500)
	encOld := encryptBytes(t, old, plain, "2025")

	both := testKeyring(t,
		KeyConfig{ID: "2025", Source: StaticSource(testKey(1))},
		KeyConfig{ID: "2026", Source: StaticSource([]byte(hex.EncodeToString(testKey(2))))},
	)
	c := testCodec(t, both, Options{ChunkSize: 64})
	encNew := encryptBytes(t, c, plain, "2026")
	for name, enc := range map[string][]byte{"old": encOld, "new": encNew} {
		var out bytes.Buffer
		h, err := c.Decrypt(ctx, &out, bytes.NewReader(enc))
		if err != nil || !bytes.Equal(out.Bytes(), plain) {
			t.Fatalf("%s file: %v", name, err)
		}
		t.Logf("%s file used key %s", name, h.KeyID)
	}
	if _, err := old.Decrypt(ctx, &bytes.Buffer{}, bytes.NewReader(encNew)); !errors.Is(err, ErrUnknownKeyID) || !strings.Contains(err.Error(), `"2026"`) {
		t.Errorf("old keyring on new file: %v, want ErrUnknownKeyID naming 2026", err)
	}
	if err := c.Encrypt(ctx, &bytes.Buffer{}, bytes.NewReader(plain), "nope"); !errors.Is(err, ErrUnknownKeyID) {
		t.Errorf("encrypt with unknown id: %v", err)
	}
}

func TestKeyringFetchesOnce(t *testing.T) {
	t.Parallel()
	calls := 0
	src := countingSource{key: testKey(4), calls: &calls}
	c := testCodec(t, testKeyring(t, KeyConfig{ID: "k", Source: src}), Options{ChunkSize: 64})
	for range 3 {
		enc := encryptBytes(t, c, patternBytes(100), "k")
		if _, err := c.Decrypt(context.Background(), &bytes.Buffer{}, bytes.NewReader(enc)); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Errorf("source called %d times, want 1", calls)
	}
}

type countingSource struct {
	key   []byte
	calls *int
}

func (s countingSource) Key(context.Context, string) ([]byte, error) {
	*s.calls++
	return bytes.Clone(s.key), nil
}

func TestPassphraseKey(t *testing.T) {
	t.Parallel()
	cheap := Argon2Params{Time: 1, MemoryKiB: 8 << 10, Threads: 1}
	kr := testKeyring(t, KeyConfig{ID: "pp", Source: StaticSource("correct horse\n"), Passphrase: true, Argon2: cheap})
	c := testCodec(t, kr, Options{ChunkSize: 64})
	plain := patternBytes(200)
	enc := encryptBytes(t, c, plain, "pp")
	h := encHeader(t, enc)
	if h.KDF != KDFArgon2id || h.Argon2 != cheap {
		t.Fatalf("header kdf %v %+v", h.KDF, h.Argon2)
	}
	// A fresh keyring (new process) derives the same key from the header's salt.
	again := testKeyring(t, KeyConfig{ID: "pp", Source: StaticSource("correct horse"), Passphrase: true})
	var out bytes.Buffer
	if _, err := testCodec(t, again, Options{}).Decrypt(context.Background(), &out, bytes.NewReader(enc)); err != nil || !bytes.Equal(out.Bytes(), plain) {
		t.Fatalf("decrypt with passphrase: %v", err)
	}
	wrong := testKeyring(t, KeyConfig{ID: "pp", Source: StaticSource("correct horse battery"), Passphrase: true})
	if _, err := testCodec(t, wrong, Options{}).Decrypt(context.Background(), &out, bytes.NewReader(enc)); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong passphrase: %v, want ErrAuth", err)
	}
}

func TestParseKeySpec(t *testing.T) {
	t.Parallel()
	good := map[string]KeyConfig{
		"a:file:/k":                {ID: "a", Source: FileSource{Path: "/k"}},
		"b:env:KEY":                {ID: "b", Source: EnvSource{Name: "KEY"}},
		"c:passphrase-file:/p":     {ID: "c", Source: FileSource{Path: "/p"}, Passphrase: true},
		"d:cmd:vault kv get -f=x":  {ID: "d"},
		"e:sh:vault kv get | head": {ID: "e"},
	}
	for spec, want := range good {
		got, err := ParseKeySpec(spec, time.Second)
		if err != nil || got.ID != want.ID || got.Passphrase != want.Passphrase {
			t.Errorf("%s: %+v, %v", spec, got, err)
		}
	}
	if k, _ := ParseKeySpec("d:cmd:vault kv get -f=x", 0); len(k.Source.(CommandSource).Argv) != 4 || k.Source.(CommandSource).Shell != "" {
		t.Errorf("cmd spec parsed as %+v", k.Source)
	}
	for _, bad := range []string{"", "a", "a:file", "a:file:", "a b:file:/k", "a:ftp:/k", ":file:/k"} {
		if _, err := ParseKeySpec(bad, 0); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestNewKeyringRejects(t *testing.T) {
	t.Parallel()
	src := StaticSource(testKey(1))
	for name, keys := range map[string][]KeyConfig{
		"bad id":        {{ID: "a/b", Source: src}},
		"no source":     {{ID: "a"}},
		"duplicate":     {{ID: "a", Source: src}, {ID: "a", Source: src}},
		"weak argon2":   {{ID: "a", Source: src, Passphrase: true, Argon2: Argon2Params{Time: 1, MemoryKiB: 1024, Threads: 1}}},
		"empty id":      {{ID: "", Source: src}},
		"long id":       {{ID: strings.Repeat("x", 65), Source: src}},
		"space in id":   {{ID: "a b", Source: src}},
		"colon in id":   {{ID: "a:b", Source: src}},
		"unicode in id": {{ID: "ключ", Source: src}},
	} {
		if _, err := NewKeyring(keys...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
