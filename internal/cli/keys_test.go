package cli

import (
	"bytes"
	"context"
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
