package sqlstore

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
)

// TestMigrateRefusesDuplicateVersions: two migrations with one number
// (two branches each adding "the next" one) fail loudly before anything
// runs, instead of one being skipped on databases already at that version.
func TestMigrateRefusesDuplicateVersions(t *testing.T) {
	fsys := fstest.MapFS{
		"0003_usage_journal.sql": {Data: []byte("SELECT 1")},
		"0003_usage_cost.sql":    {Data: []byte("SELECT 1")},
	}
	err := Migrate(context.Background(), nil, fsys, "")
	if err == nil || !strings.Contains(err.Error(), "share version 0003") {
		t.Fatalf("Migrate = %v, want a duplicate-version error", err)
	}
}
