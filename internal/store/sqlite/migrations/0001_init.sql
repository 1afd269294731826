CREATE TABLE api_keys (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	hash BLOB NOT NULL,
	models TEXT NOT NULL DEFAULT '[]',
	rpm INTEGER NOT NULL DEFAULT 0,
	tpm INTEGER NOT NULL DEFAULT 0,
	max_concurrent INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL DEFAULT 0,
	revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE oauth_clients (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	secret_hash TEXT NOT NULL,
	scopes TEXT NOT NULL DEFAULT '[]',
	models TEXT NOT NULL DEFAULT '[]',
	rpm INTEGER NOT NULL DEFAULT 0,
	tpm INTEGER NOT NULL DEFAULT 0,
	max_concurrent INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE roles (
	name TEXT PRIMARY KEY,
	grants TEXT NOT NULL,
	models TEXT NOT NULL DEFAULT '[]',
	updated_at INTEGER NOT NULL
);
CREATE TABLE usage_totals (
	kind TEXT NOT NULL,
	principal_id TEXT NOT NULL,
	model TEXT NOT NULL,
	day INTEGER NOT NULL,
	requests INTEGER NOT NULL DEFAULT 0,
	prompt_tokens INTEGER NOT NULL DEFAULT 0,
	cache_hit_tokens INTEGER NOT NULL DEFAULT 0,
	completion_tokens INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (kind, principal_id, model, day)
);
CREATE TABLE revoked_tokens (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	jti TEXT NOT NULL UNIQUE,
	expires_at INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);
CREATE TABLE signing_keys (
	kid TEXT PRIMARY KEY,
	algorithm TEXT NOT NULL,
	private_key BLOB NOT NULL,
	public_key BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	activates_at INTEGER NOT NULL,
	retired_at INTEGER NOT NULL DEFAULT 0
);
