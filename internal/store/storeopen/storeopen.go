// Package storeopen opens the control-plane store named by a DSN: a
// postgres:// or postgresql:// URL selects store/postgres, anything else is
// a SQLite file path (optionally prefixed with sqlite:// or file:).
package storeopen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/postgres"
	"github.com/dsgate/dsgate/internal/store/sqlite"
)

// Open opens the store for dsn and applies its migrations.
func Open(ctx context.Context, dsn string) (store.Store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgres.Open(ctx, dsn, postgres.Options{})
	}
	// A SQLite file's directory is created on first use, like the
	// gateway's other data directories.
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "file:")
	if path, _, _ = strings.Cut(path, "?"); path != "" && path != ":memory:" {
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("creating the store's directory: %w", err)
		}
	}
	return sqlite.Open(ctx, dsn, sqlite.Options{})
}
