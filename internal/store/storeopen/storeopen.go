// Package storeopen opens the control-plane store named by a DSN: a
// postgres:// or postgresql:// URL selects store/postgres, anything else is
// a SQLite file path (optionally prefixed with sqlite:// or file:).
package storeopen

import (
	"context"
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
	return sqlite.Open(ctx, dsn, sqlite.Options{})
}
