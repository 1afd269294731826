package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"testing"

	"github.com/dsgate/dsgate/internal/store/sqlite"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return storetest.OpenSQLite(t) })
}

// Reopening a migrated file must not re-apply migrations.
func TestReopen(t *testing.T) {
	path := t.TempDir() + "/d.db"
	for i := 0; i < 2; i++ {
		st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		if err != nil {
			t.Fatalf("open #%d: %v", i+1, err)
		}
		st.Close()
	}
}

// Usage stored in daily buckets before migration 0008 is kept whole.
func TestUsageUpgrade(t *testing.T) {
	path := t.TempDir() + "/d.db"
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.UsageUpgrade(t, db, os.DirFS("migrations"), "", func() store.Store {
		st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	})
}
