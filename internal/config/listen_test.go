package config

import (
	"strings"
	"testing"
)

// Issue 13, safe by default: a listener other machines can reach, with
// auth off, is refused unless auth.allow_anonymous says so.
func TestAnonymousListenerRefused(t *testing.T) {
	for _, tt := range []struct {
		yaml string
		path string // "" when the config is fine
	}{
		{"server: {listen: 127.0.0.1:8080}\n", ""},
		{"server: {listen: \"localhost:8080\"}\n", ""},
		{"server: {listen: \"[::1]:8080\"}\n", ""},
		{"server: {listen: 0.0.0.0:8080}\n", "server.listen"},
		{"server: {listen: \":8080\"}\n", "server.listen"},
		{"server: {listen: 10.1.2.3:8080}\n", "server.listen"},
		{"grpc: {listen: 0.0.0.0:8081}\n", "grpc.listen"},
		{"metrics: {listen: \":9090\"}\n", "metrics.listen"},
		{"metrics: {listen: \":9090\", disabled: true}\n", ""},
		{"server: {listen: 0.0.0.0:8080}\nauth: {allow_anonymous: true}\n", ""},
	} {
		_, err := parseString(t, tt.yaml)
		switch {
		case tt.path == "" && err != nil:
			t.Errorf("%s: %v", tt.yaml, err)
		case tt.path != "" && (err == nil || !strings.Contains(err.Error(), tt.path+":") ||
			!strings.Contains(err.Error(), "auth.allow_anonymous")):
			t.Errorf("%s: err = %v", tt.yaml, err)
		}
	}
}
