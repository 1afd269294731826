package cli

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestKeysCommands(t *testing.T) {
	db := t.TempDir() + "/cp.db"
	out, stderr, code := run(t, "keys", "create", "--db", db, "--name", "ci", "--role", "developer",
		"--models", "deepseek-chat,deepseek-reasoner", "--rpm", "60", "--tpm", "100000", "--expires", "90d")
	if code != 0 {
		t.Fatalf("create: %d %s", code, stderr)
	}
	key := regexp.MustCompile(`key:\s+(dsg_\S+)`).FindStringSubmatch(out)
	id := regexp.MustCompile(`id:\s+(\S+)`).FindStringSubmatch(out)
	if key == nil || id == nil || !strings.Contains(stderr, "cannot be shown again") {
		t.Fatalf("create output: %q / %q", out, stderr)
	}
	out, _, code = run(t, "keys", "list", "--db", db)
	if code != 0 || !strings.Contains(out, id[1]) || strings.Contains(out, key[1]) {
		t.Fatalf("list: %d %q", code, out)
	}
	if _, _, code = run(t, "keys", "create", "--db", db, "--name", "x", "--role", "wizard"); code == 0 {
		t.Fatal("unknown role accepted")
	}
	if _, stderr, code = run(t, "keys", "revoke", "--db", db, id[1]); code != 0 {
		t.Fatalf("revoke: %d %s", code, stderr)
	}
	out, _, _ = run(t, "keys", "list", "--db", db, "--json")
	if !strings.Contains(out, `"revoked_at"`) {
		t.Fatalf("list after revoke: %s", out)
	}
	if _, _, code = run(t, "keys", "revoke", "--db", db, "nope"); code == 0 {
		t.Fatal("revoking an unknown key succeeded")
	}
}

func TestClientsCommands(t *testing.T) {
	db := t.TempDir() + "/cp.db"
	out, stderr, code := run(t, "clients", "create", "--db", db, "--name", "search", "--role", "analyst", "--scopes", "chat")
	if code != 0 {
		t.Fatalf("create: %d %s", code, stderr)
	}
	id := regexp.MustCompile(`client_id:\s+(\S+)`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`client_secret:\s+(\S+)`).FindStringSubmatch(out)
	if id == nil || secret == nil {
		t.Fatalf("create output: %q", out)
	}
	out, _, _ = run(t, "clients", "list", "--db", db)
	if !strings.Contains(out, id[1]) || strings.Contains(out, secret[1]) {
		t.Fatalf("list: %q", out)
	}
	if _, stderr, code = run(t, "clients", "revoke", "--db", db, id[1]); code != 0 {
		t.Fatalf("revoke: %s", stderr)
	}
	if _, _, code = run(t, "clients", "list", "--db", ""); code == 0 {
		t.Fatal("missing --db accepted")
	}
}

// TestCreateWithConfigRoles: roles defined in auth.roles of --config are
// accepted by `keys create` and `clients create` (they were rejected).
func TestCreateWithConfigRoles(t *testing.T) {
	dir := t.TempDir()
	cfg := dir + "/dsgate.yaml"
	t.Setenv("DSG_CLI_TEST_KEY", "sk-test")
	writeFile(t, cfg, `version: 1
upstreams:
  - {name: d, kind: deepseek, url: "https://api.deepseek.com", api_key: "${DSG_CLI_TEST_KEY}"}
models:
  - {name: deepseek-chat, targets: [{upstream: d}]}
store: {dsn: "`+dir+`/cp.db"}
auth:
  roles:
    - name: summarizer
      permissions: [{resource: text_generation, actions: [read]}]
`)
	if _, stderr, code := run(t, "keys", "create", "--config", cfg, "--name", "s", "--role", "summarizer"); code != 0 {
		t.Fatalf("keys create with a config role: %d %s", code, stderr)
	}
	if _, stderr, code := run(t, "keys", "create", "--db", dir+"/cp.db", "--config", cfg, "--name", "s", "--role", "summarizer"); code != 0 {
		t.Fatalf("keys create --db --config with a config role: %d %s", code, stderr)
	}
	if _, stderr, code := run(t, "clients", "create", "--config", cfg, "--name", "s", "--role", "summarizer"); code != 0 {
		t.Fatalf("clients create with a config role: %d %s", code, stderr)
	}
	if _, _, code := run(t, "keys", "create", "--config", cfg, "--name", "s", "--role", "wizard"); code == 0 {
		t.Fatal("unknown role accepted")
	}
}

func TestKeysGenerate(t *testing.T) {
	out, _, code := run(t, "keys", "generate")
	key := strings.TrimSpace(out)
	if code != 0 || !regexp.MustCompile(`^dsg_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$`).MatchString(key) {
		t.Fatalf("generate: %d %q", code, out)
	}
	if again, _, _ := run(t, "keys", "generate"); strings.TrimSpace(again) == key {
		t.Fatal("generate repeated a key")
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
