// Package storetest holds the conformance suite every store.Store
// implementation passes, and helpers that open a throw-away SQLite file or
// PostgreSQL schema for tests in other packages.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/postgres"
	"github.com/dsgate/dsgate/internal/store/sqlite"
	"github.com/dsgate/dsgate/internal/testkit"
)

// DefaultPostgresDSN is used when DSGATE_TEST_POSTGRES_DSN is unset.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// OpenSQLite opens a store in a fresh file under t.TempDir.
func OpenSQLite(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir()+"/dsgate.db", sqlite.Options{})
	if err != nil {
		t.Fatalf("opening sqlite: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// PostgresDSN creates a uniquely named schema in the test database and
// returns a DSN whose search_path selects it; the schema is dropped when the
// test ends. Without a reachable server the test is skipped, or fails when
// CI=true.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv("DSGATE_TEST_POSTGRES_DSN")
	if base == "" {
		base = DefaultPostgresDSN
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("opening postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		admin.Close()
		testkit.Need(t, "postgres at "+redact(base), "start it or set DSGATE_TEST_POSTGRES_DSN", err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "dsgate_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("creating schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parsing postgres dsn: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenPostgres opens a store in a fresh schema (see PostgresDSN).
func OpenPostgres(t testing.TB) store.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), PostgresDSN(t), postgres.Options{MaxConns: 16})
	if err != nil {
		t.Fatalf("opening postgres store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "<dsn>"
	}
	return u.Redacted()
}

func mustNotFound(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: got %v, want ErrNotFound", what, err)
	}
}
