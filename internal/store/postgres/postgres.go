package postgres

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/dsgate/dsgate/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is an arbitrary constant shared by every dsgate replica.
const migrationLock = `SELECT pg_advisory_xact_lock(7143061227)`

// Options tunes the PostgreSQL store; the zero value is usable.
type Options struct {
	// MaxConns caps the connection pool; default 10.
	MaxConns int
}

// Open connects to dsn (postgres://...; a search_path query parameter
// selects a schema), applies the embedded migrations and returns the store.
//
// While PostgreSQL is unreachable, connection attempts end within
// connect_timeout (default DefaultConnectTimeout), and for
// DefaultRetryAfter after a failed one the next fail at once with
// ErrUnavailable; the store's Health reports the outage, and the pool
// reconnects by itself once the server answers.
func Open(ctx context.Context, dsn string, opts Options) (*sqlstore.DB, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 10
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing postgres dsn: %w", err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	g := newGuard(stdlib.GetConnector(*cfg), DefaultRetryAfter)
	db := sql.OpenDB(g)
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to postgres: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("reading embedded migrations: %w", err)
	}
	if err := sqlstore.Migrate(ctx, db, sub, migrationLock); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating postgres: %w", err)
	}
	return sqlstore.New(sqlstore.Options{Writer: db, Reader: db, Numbered: true, Health: g.health}), nil
}
