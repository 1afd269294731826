package modelcrypt

import (
	"fmt"
	"strings"
	"time"
)

// ParseKeySpec parses a key given on a command line or in a config file as
// "ID:KIND:VALUE":
//
//	ID:file:PATH           key in a file (raw 32 bytes, hex or base64)
//	ID:env:NAME            key in an environment variable
//	ID:cmd:PROGRAM ARGS    key on the standard output of a program, run
//	                       without a shell; arguments split on spaces
//	ID:sh:SCRIPT           the same, run through /bin/sh -c (explicit opt-in)
//	ID:passphrase-KIND:... any of the above yielding a passphrase that
//	                       argon2id stretches (salt stored per file)
//
// cmdTimeout bounds cmd and sh sources; 0 means DefaultCommandTimeout. The
// VALUE names where the secret is, never the secret itself.
func ParseKeySpec(spec string, cmdTimeout time.Duration) (KeyConfig, error) {
	id, rest, ok1 := strings.Cut(spec, ":")
	kind, value, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || value == "" {
		return KeyConfig{}, fmt.Errorf("key spec %q: want ID:KIND:VALUE, e.g. prod-2026:file:/run/secrets/model-key", spec)
	}
	if err := validKeyID(id); err != nil {
		return KeyConfig{}, fmt.Errorf("key spec %q: %w", spec, err)
	}
	k := KeyConfig{ID: id}
	kind, k.Passphrase = strings.CutPrefix(kind, "passphrase-")
	switch kind {
	case "file":
		k.Source = FileSource{Path: value}
	case "env":
		k.Source = EnvSource{Name: value}
	case "cmd":
		k.Source = CommandSource{Argv: strings.Fields(value), Timeout: cmdTimeout}
	case "sh":
		k.Source = CommandSource{Argv: []string{value}, Shell: "/bin/sh", Timeout: cmdTimeout}
	default:
		return KeyConfig{}, fmt.Errorf("key spec %q: unknown kind %q (want file, env, cmd, sh, or passphrase-file, passphrase-env, passphrase-cmd, passphrase-sh)", spec, kind)
	}
	return k, nil
}
