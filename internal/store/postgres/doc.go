// Package postgres opens dsgate's control-plane store in PostgreSQL through
// pgx (github.com/jackc/pgx/v5, via its database/sql adapter so the queries
// are shared with SQLite in store/sqlstore). Use it when several replicas
// share state. Migrations are embedded and applied at start under an
// advisory lock, so replicas starting together apply them once.
package postgres
