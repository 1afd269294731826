package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestBudgetsCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "cp.db")
	if _, stderr, code := run(t, "budgets", "put", "team:research", "month", "500", "USD", "--soft", "0.9", "--db", db); code != 0 {
		t.Fatalf("put: %s", stderr)
	}
	if _, _, code := run(t, "budgets", "put", "team:research", "fortnight", "5", "USD", "--db", db); code == 0 {
		t.Error("a fortnight budget was accepted")
	}
	if _, _, code := run(t, "budgets", "put", "research", "day", "5", "USD", "--db", db); code == 0 {
		t.Error("a subject without kind was accepted")
	}
	out, _, _ := run(t, "budgets", "list", "--db", db)
	if !strings.Contains(out, "team:research") || !strings.Contains(out, "500") || !strings.Contains(out, "0.9") {
		t.Errorf("list:\n%s", out)
	}
	if _, stderr, code := run(t, "budgets", "delete", "team:research", "month", "USD", "--db", db); code != 0 {
		t.Fatalf("delete: %s", stderr)
	}
	if _, _, code := run(t, "budgets", "delete", "team:research", "month", "USD", "--db", db); code == 0 {
		t.Error("deleting twice succeeded")
	}
	if out, _, _ := run(t, "budgets", "list", "--json", "--db", db); strings.TrimSpace(out) != "[]" {
		t.Errorf("list after delete: %s", out)
	}
}
