package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// References. Every string in the file may use ${NAME} or ${NAME:-default}
// anywhere in its value; they are expanded once, right after decoding, by
// one walk over the Config struct (expandAll), so no field can be
// forgotten. A field tagged `ref:"literal"` (free text such as a canned
// answer) is left as written. Secret fields are resolved by the same walk
// (Secret.resolve): they must be a whole reference, never a literal.
//
// A reference to an unset variable without a default is an error: a DSN or
// URL that silently became "" would fall back to a default (a SQLite file
// in the working directory, say) instead of failing.

// refPattern matches one reference: ${NAME} or ${NAME:-default}. The
// default runs to the first "}".
var refPattern = regexp.MustCompile(`\$\{([^}:]*)(:-([^}]*))?\}`)

var namePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ErrUnsetVariable is returned for ${NAME} when NAME is not set and the
// reference gives no default.
var ErrUnsetVariable = errors.New("is not set")

// expandString replaces every reference in s. ${NAME:-default} takes the
// default when NAME is unset or empty, as in the shell.
func expandString(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var firstErr error
	out := refPattern.ReplaceAllStringFunc(s, func(ref string) string {
		m := refPattern.FindStringSubmatch(ref)
		name, hasDefault, def := m[1], m[2] != "", m[3]
		if !namePattern.MatchString(name) {
			if firstErr == nil {
				firstErr = fmt.Errorf("%q is not a valid reference (want ${NAME} or ${NAME:-default})", ref)
			}
			return ref
		}
		v, set := os.LookupEnv(name)
		switch {
		case hasDefault && v == "":
			return def
		case !set:
			if firstErr == nil {
				firstErr = fmt.Errorf("${%s} %w (set it, or give a default: ${%s:-default})", name, ErrUnsetVariable, name)
			}
			return ""
		}
		return v
	})
	if firstErr != nil {
		return "", firstErr
	}
	if strings.Count(s, "${") != len(refPattern.FindAllStringIndex(s, -1)) {
		return "", errors.New("malformed reference (want ${NAME} or ${NAME:-default})")
	}
	return out, nil
}

// literalPassword reports whether s, as written in the file, carries a
// password that is not a reference: a URL with user:password@ or a
// key/value DSN with password=. Such values must come from the
// environment so the file holds no secret; postgres://u:${PW}@db is fine,
// postgres://u:pw@${HOST} is not.
func literalPassword(s string) bool {
	s = refPattern.ReplaceAllString(s, refMark)
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && !strings.Contains(p, refMark) {
			return true
		}
	}
	for _, m := range dsnPassword.FindAllStringSubmatch(s, -1) {
		if !strings.Contains(m[2], refMark) {
			return true
		}
	}
	return false
}

// refMark stands for a reference while a value is checked for literal
// passwords.
const refMark = "dsgateREF"

// dsnPassword matches password=... in a key/value DSN (libpq style).
var dsnPassword = regexp.MustCompile(`(^|\s)password\s*=\s*('[^']*'|[^\s']\S*)`)

var secretType = reflect.TypeFor[Secret]()

// expandAll expands every string and resolves every Secret reachable from
// c, reporting each problem with its YAML path.
func (c *Config) expandAll() error {
	var errs []error
	walkRefs(reflect.ValueOf(c).Elem(), "", func(path string, v reflect.Value, literal bool) {
		if v.Type() == secretType {
			if err := v.Addr().Interface().(*Secret).resolve(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", path, err))
			}
			return
		}
		raw := v.String()
		if literal {
			return
		}
		if literalPassword(raw) {
			errs = append(errs, fmt.Errorf("%s: holds a literal password; put the value (or its password) in the environment and write a reference, e.g. ${DSGATE_POSTGRES_DSN}", path))
			return
		}
		out, err := expandString(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
			return
		}
		v.SetString(out)
	})
	return errors.Join(errs...)
}

// walkRefs calls visit for every string (and every Secret) reachable from
// v, with its YAML path. Map values are visited through a settable copy
// written back afterwards.
func walkRefs(v reflect.Value, path string, visit func(path string, v reflect.Value, literal bool)) {
	walkValue(v, path, false, visit)
}

func walkValue(v reflect.Value, path string, literal bool, visit func(string, reflect.Value, bool)) {
	if v.Type() == secretType {
		visit(path, v, literal)
		return
	}
	switch v.Kind() {
	case reflect.String:
		visit(path, v, literal)
	case reflect.Pointer:
		if !v.IsNil() {
			walkValue(v.Elem(), path, literal, visit)
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			walkValue(v.Index(i), fmt.Sprintf("%s[%d]", path, i), literal, visit)
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			cp := reflect.New(iter.Value().Type()).Elem()
			cp.Set(iter.Value())
			walkValue(cp, fmt.Sprintf("%s.%v", path, iter.Key()), literal, visit)
			v.SetMapIndex(iter.Key(), cp)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			p := path
			if opts != "inline" {
				p = joinPath(path, name)
			}
			walkValue(v.Field(i), p, literal || f.Tag.Get("ref") == "literal", visit)
		}
	}
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// plainConfig is Config without its MarshalYAML, for encoding.
type plainConfig Config

// MarshalYAML encodes the configuration with every password inside a URL
// or DSN replaced by "redacted" (Secret fields print as <secret>), so
// `dsgate config print` and anything else that prints a Config never shows
// a credential that came from the environment.
func (c *Config) MarshalYAML() (any, error) {
	var n yaml.Node
	if err := n.Encode((*plainConfig)(c)); err != nil {
		return nil, err
	}
	redactNode(&n)
	return &n, nil
}

func redactNode(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		n.Value = RedactCredentials(n.Value)
	}
	for _, ch := range n.Content {
		redactNode(ch)
	}
}

// RedactCredentials hides the password of a URL (user:password@host) or
// of a key/value DSN (password=...) in s; other strings come back as they
// are. Use it wherever a DSN, URL or address from the config is printed.
func RedactCredentials(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return dsnPassword.ReplaceAllStringFunc(s, func(m string) string {
		lead := m[:strings.Index(m, "password")]
		return lead + "password=xxxxx"
	})
}
