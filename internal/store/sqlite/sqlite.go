package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/store/sqlstore"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options tunes the SQLite store; the zero value is usable.
type Options struct {
	// BusyTimeout is how long a statement waits for another process's lock;
	// default 10s.
	BusyTimeout time.Duration
	// Readers is the size of the read-only connection pool; default 4.
	Readers int
}

// Open opens (creating if needed) the SQLite database at path, applies the
// embedded migrations and returns the store.
func Open(ctx context.Context, path string, opts Options) (*sqlstore.DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty path")
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 10 * time.Second
	}
	if opts.Readers <= 0 {
		opts.Readers = 4
	}
	path = strings.TrimPrefix(path, "sqlite://")
	path = strings.TrimPrefix(path, "file:")
	pragmas := url.Values{}
	pragmas.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	pragmas.Add("_pragma", "journal_mode(WAL)")
	pragmas.Add("_pragma", "synchronous(NORMAL)")
	pragmas.Add("_pragma", "foreign_keys(ON)")
	writer, err := sql.Open("sqlite", "file:"+path+"?"+pragmas.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("opening sqlite writer: %w", err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxIdleTime(0)
	writer.SetConnMaxLifetime(0)
	if err := sqlstore.Migrate(ctx, writer, mustSub(migrations, "migrations"), ""); err != nil {
		writer.Close()
		return nil, fmt.Errorf("migrating %s: %w", path, err)
	}
	pragmas.Add("_pragma", "query_only(ON)")
	reader, err := sql.Open("sqlite", "file:"+path+"?"+pragmas.Encode())
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("opening sqlite reader: %w", err)
	}
	reader.SetMaxOpenConns(opts.Readers)
	reader.SetMaxIdleConns(opts.Readers)
	return sqlstore.New(sqlstore.Options{Writer: writer, Reader: reader}), nil
}

func mustSub(f embed.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err) // the embedded directory exists at build time
	}
	return sub
}
