// Package sqlite opens dsgate's control-plane store in a SQLite file through
// the pure-Go modernc.org/sqlite driver (no cgo), the embedded default for a
// single replica.
//
// "database is locked" cannot happen between this process's writers: every
// write goes through one connection (database/sql queues callers for it),
// the database runs in WAL mode so readers on their own connections never
// block the writer, and busy_timeout covers another process (the CLI) writing
// the same file. Write transactions start with BEGIN IMMEDIATE so a
// transaction never has to upgrade a read lock, which is where SQLite gives
// up without waiting.
package sqlite
