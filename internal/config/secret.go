package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Secret is a credential taken from the environment or a file. It prints as
// <secret> in logs, errors and `dsgate config print`; only Value reveals it.
type Secret struct {
	ref   string // ${NAME} or file:/path, as written
	value string
}

// Value returns the resolved secret.
func (s Secret) Value() string { return s.value }

// Ref returns the reference as written in the file, e.g. ${DEEPSEEK_API_KEY}.
func (s Secret) Ref() string { return s.ref }

// String redacts the secret.
func (s Secret) String() string {
	if s.ref == "" {
		return ""
	}
	return "<secret>"
}

// GoString redacts the secret for %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalYAML redacts the secret.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON redacts the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// UnmarshalYAML keeps the reference; resolution happens in resolveSecrets.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a secret must be a string reference", n.Line)
	}
	s.ref = strings.TrimSpace(n.Value)
	return nil
}

var errLiteralSecret = errors.New(`must be a reference, "${ENV_VAR}" or "file:/path", not a literal secret`)

// resolve reads the secret named by the reference: ${NAME} (empty when
// unset, so an optional upstream can be switched off), ${NAME:-} or
// file:/path (the path may hold references). A non-empty default would be
// a literal secret in the file.
func (s *Secret) resolve() error {
	switch {
	case s.ref == "":
		return nil
	case strings.HasPrefix(s.ref, "${") && strings.HasSuffix(s.ref, "}"):
		m := refPattern.FindStringSubmatch(s.ref)
		if m == nil || m[0] != s.ref || !namePattern.MatchString(m[1]) {
			return errLiteralSecret
		}
		if m[3] != "" {
			return errors.New("a secret's default would be a literal secret: write ${NAME} or ${NAME:-}")
		}
		s.value = os.Getenv(m[1])
		return nil
	case strings.HasPrefix(s.ref, "file:"):
		path, err := expandString(strings.TrimPrefix(s.ref, "file:")) // file:${CREDENTIALS_DIRECTORY}/key
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading secret file: %w", err)
		}
		s.value = strings.TrimSpace(string(b))
		return nil
	}
	return errLiteralSecret
}
