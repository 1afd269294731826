package server

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/config"
)

// restartKeys names every changed key a reload cannot apply, down to the
// leaf, secrets included (their fields are hidden), and none it can.
func TestRestartKeys(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"kek1", "kek2"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Repeat(name[3:], 64)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	parse := func(kek, extra string) *config.Config {
		c, err := config.Parse(strings.NewReader(`version: 1
server: {listen: "127.0.0.1:8080"}
store: {dsn: "` + filepath.Join(dir, "db") + `"}
auth: {enabled: true, signing_key_encryption_key: "file:` + filepath.Join(dir, kek) + `"` + extra + `}
upstreams:
  - {name: s, kind: sim}
models:
  - {name: deepseek-chat, targets: [{upstream: s}]}
`))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := parse("kek1", "")
	if keys := restartKeys(base, parse("kek1", ", limits: {rpm: 5}, roles: [{name: r, permissions: [{resource: text_generation, actions: [read]}], models: [x]}]")); len(keys) != 0 {
		t.Fatalf("reloadable changes refused: %v", keys)
	}
	got := restartKeys(base, parse("kek2", ", token_ttl: 7m"))
	if want := []string{"auth.token_ttl", "auth.signing_key_encryption_key"}; !slices.Equal(got, want) {
		t.Fatalf("restart keys %v, want %v", got, want)
	}
}
