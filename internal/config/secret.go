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

// resolve reads the secret named by the reference.
func (s *Secret) resolve() error {
	switch {
	case s.ref == "":
		return nil
	case strings.HasPrefix(s.ref, "${") && strings.HasSuffix(s.ref, "}"):
		s.value = os.Getenv(s.ref[2 : len(s.ref)-1])
		return nil
	case strings.HasPrefix(s.ref, "file:"):
		b, err := os.ReadFile(strings.TrimPrefix(s.ref, "file:"))
		if err != nil {
			return fmt.Errorf("reading secret file: %w", err)
		}
		s.value = strings.TrimSpace(string(b))
		return nil
	}
	return errLiteralSecret
}

func (c *Config) resolveSecrets() error {
	var errs []error
	for i := range c.Upstreams {
		if err := c.Upstreams[i].APIKey.resolve(); err != nil {
			errs = append(errs, fmt.Errorf("upstreams[%d].api_key: %w", i, err))
		}
	}
	if err := c.Auth.SigningKeyEncryptionKey.resolve(); err != nil {
		errs = append(errs, fmt.Errorf("auth.signing_key_encryption_key: %w", err))
	}
	for name, sec := range map[string]*Secret{
		"auth.bootstrap_admin_key":      &c.Auth.BootstrapAdminKey,
		"audit.elasticsearch.password":  &c.Audit.Elasticsearch.Password,
		"audit.checkpoints.signing_key": &c.Audit.Checkpoints.SigningKey,
		"audit.elasticsearch.api_key":   &c.Audit.Elasticsearch.APIKey,
		"cache.s3.access_key":           &c.Cache.S3.AccessKey,
		"cache.s3.secret_key":           &c.Cache.S3.SecretKey,
	} {
		if err := sec.resolve(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	if err := c.Batch.resolveSecrets(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Redis.Password.resolve(); err != nil {
		errs = append(errs, fmt.Errorf("redis.password: %w", err))
	}
	return errors.Join(errs...)
}
