package sqlite_test

import (
	"context"

	"github.com/dsgate/dsgate/internal/store/sqlite"
	"testing"

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
