package modelcrypt

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// KeySource yields the secret material for a key id: a 32-byte key (raw, hex
// or base64; see ParseKey) or, for passphrase keys, a passphrase.
//
// Key returns a new slice owned by the caller, who zeroes it after use.
// Implementations must be safe for concurrent use and must never log or
// embed the material in errors.
type KeySource interface {
	Key(ctx context.Context, keyID string) ([]byte, error)
}

// maxKeyMaterial bounds what a source may return (a key file or command output).
const maxKeyMaterial = 64 << 10

// DefaultCommandTimeout bounds a CommandSource that sets no Timeout.
const DefaultCommandTimeout = 30 * time.Second

var (
	_ KeySource = FileSource{}
	_ KeySource = EnvSource{}
	_ KeySource = CommandSource{}
	_ KeySource = StaticSource(nil)
)

// FileSource reads the material from a file, such as a Kubernetes Secret
// mounted as a volume.
type FileSource struct{ Path string }

// Key reads the file, refusing files larger than 64 KiB.
func (s FileSource) Key(_ context.Context, _ string) ([]byte, error) {
	f, err := os.Open(s.Path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyMaterial+1))
	if err != nil {
		clear(b)
		return nil, fmt.Errorf("key file %s: %w", s.Path, err)
	}
	if len(b) > maxKeyMaterial {
		clear(b)
		return nil, fmt.Errorf("key file %s: larger than %d bytes", s.Path, maxKeyMaterial)
	}
	return b, nil
}

// EnvSource reads the material from an environment variable.
type EnvSource struct {
	Name string
	// LookupEnv replaces os.LookupEnv, for tests; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Key returns the variable's value; an unset or empty variable is an error.
func (s EnvSource) Key(_ context.Context, _ string) ([]byte, error) {
	lookup := s.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(s.Name)
	if !ok || v == "" {
		return nil, fmt.Errorf("key environment variable %s is not set", s.Name)
	}
	return []byte(v), nil
}

// CommandSource runs an external program and takes its standard output as the
// material, so any HSM or KMS command-line tool can supply keys. The program
// is executed directly, without a shell, unless Shell is set. It runs with
// the caller's environment plus DSGATE_KEY_ID set to the requested key id.
type CommandSource struct {
	// Argv is the program and its arguments. With Shell set, Argv[0] is a
	// script passed to Shell with "-c".
	Argv []string
	// Shell, when not empty (e.g. "/bin/sh"), runs Argv[0] through it.
	Shell string
	// Timeout bounds the run; zero means DefaultCommandTimeout.
	Timeout time.Duration
}

// Key runs the command and returns its standard output.
func (s CommandSource) Key(ctx context.Context, keyID string) ([]byte, error) {
	if len(s.Argv) == 0 || s.Argv[0] == "" {
		return nil, errors.New("key command: empty command")
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultCommandTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	name, args := s.Argv[0], s.Argv[1:]
	if s.Shell != "" {
		name, args = s.Shell, append([]string{"-c", s.Argv[0], "dsgate-key"}, s.Argv[1:]...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DSGATE_KEY_ID="+keyID)
	cmd.WaitDelay = time.Second // do not hang on grandchildren holding the pipes
	stdout := &limitedBuffer{max: maxKeyMaterial}
	stderr := &limitedBuffer{max: 512, truncate: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		clear(stdout.buf.Bytes())
		return nil, fmt.Errorf("key command %s: timed out after %s", name, timeout)
	}
	if err != nil {
		clear(stdout.buf.Bytes())
		msg := bytes.TrimSpace(stderr.buf.Bytes())
		if len(msg) > 0 {
			return nil, fmt.Errorf("key command %s: %w: %s", name, err, msg)
		}
		return nil, fmt.Errorf("key command %s: %w", name, err)
	}
	return stdout.buf.Bytes(), nil
}

// limitedBuffer collects up to max bytes; past that it fails the write, or
// silently drops the excess when truncate is set.
type limitedBuffer struct {
	buf      bytes.Buffer
	max      int
	truncate bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	room := l.max - l.buf.Len()
	if len(p) > room {
		if !l.truncate {
			return 0, fmt.Errorf("output larger than %d bytes", l.max)
		}
		l.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return l.buf.Write(p)
}

// StaticSource is a fixed key or passphrase held in memory, for tests and
// for programs that obtained the material elsewhere.
type StaticSource []byte

// Key returns a copy of the material.
func (s StaticSource) Key(context.Context, string) ([]byte, error) {
	if len(s) == 0 {
		return nil, errors.New("static key is empty")
	}
	return bytes.Clone(s), nil
}

// ParseKey turns key material into a 32-byte AES-256 key. It accepts exactly
// 32 raw bytes, or (surrounding whitespace ignored) 64 hex digits, or
// standard or URL-safe base64, padded or not, of 32 bytes. Thirty-two
// printable characters are refused rather than taken as a raw key, because
// that is almost always a mistyped text key with far less entropy than it
// seems. The input is not modified; the result is a new slice.
func ParseKey(material []byte) ([]byte, error) {
	if len(material) == 32 && !printable(material) {
		return bytes.Clone(material), nil
	}
	s := bytes.TrimSpace(material)
	if len(s) == 64 {
		key := make([]byte, 32)
		if _, err := hex.Decode(key, s); err == nil {
			return key, nil
		}
		clear(key)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if enc.DecodedLen(len(s)) < 32 || enc.DecodedLen(len(s)) > 34 {
			continue
		}
		key := make([]byte, enc.DecodedLen(len(s)))
		n, err := enc.Decode(key, s)
		if err == nil && n == 32 {
			return key[:32], nil
		}
		clear(key)
	}
	return nil, fmt.Errorf("%w: want 32 raw bytes, 64 hex digits or base64 of 32 bytes (got %d bytes)", ErrBadKey, len(material))
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
