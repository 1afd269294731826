package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migrate applies the numbered *.sql files in fsys ("0001_init.sql", ...)
// that db has not applied yet, in order, inside one transaction. lockSQL,
// if not empty, runs first in that transaction so replicas starting at the
// same time apply migrations once (PostgreSQL: pg_advisory_xact_lock).
func Migrate(ctx context.Context, db *sql.DB, fsys fs.FS, lockSQL string) (err error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return fmt.Errorf("listing migrations: %w", err)
	}
	sort.Strings(names)
	if err := uniqueVersions(names); err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning migration: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the original error matters more
		}
	}()
	if lockSQL != "" {
		if _, err = tx.ExecContext(ctx, lockSQL); err != nil {
			return fmt.Errorf("locking for migration: %w", err)
		}
	}
	if _, err = tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	var current int64
	if err = tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("reading schema version: %w", err)
	}
	for _, name := range names {
		version, err := strconv.ParseInt(strings.SplitN(path.Base(name), "_", 2)[0], 10, 64)
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number: %w", name, err)
		}
		if version <= current {
			continue
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("reading migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("applying migration %s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES (`+strconv.FormatInt(version, 10)+`)`); err != nil {
			return fmt.Errorf("recording migration %s: %w", name, err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("committing migrations: %w", err)
	}
	return nil
}

// uniqueVersions refuses two migrations with one number: a database
// already at that version would silently skip the second (branches that
// each added "the next" migration).
func uniqueVersions(names []string) error {
	seen := map[string]string{}
	for _, name := range names {
		v, _, _ := strings.Cut(path.Base(name), "_")
		if other, ok := seen[v]; ok {
			return fmt.Errorf("migrations %s and %s share version %s: renumber one", other, name, v)
		}
		seen[v] = name
	}
	return nil
}
