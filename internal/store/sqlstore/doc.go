// Package sqlstore implements store.Store over database/sql for both SQL
// backends. store/sqlite and store/postgres open the connections, apply
// their own embedded migrations and hand the handles to New; the queries
// here use only SQL that SQLite (>= 3.35) and PostgreSQL both accept.
//
// Times are stored as Unix microseconds (BIGINT) and lists as JSON text so
// the two schemas stay alike and comparisons are exact.
package sqlstore
