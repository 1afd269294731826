CREATE TABLE api_keys (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	hash BYTEA NOT NULL,
	models TEXT NOT NULL DEFAULT '[]',
	rpm BIGINT NOT NULL DEFAULT 0,
	tpm BIGINT NOT NULL DEFAULT 0,
	max_concurrent BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL DEFAULT 0,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE oauth_clients (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	secret_hash TEXT NOT NULL,
	scopes TEXT NOT NULL DEFAULT '[]',
	models TEXT NOT NULL DEFAULT '[]',
	rpm BIGINT NOT NULL DEFAULT 0,
	tpm BIGINT NOT NULL DEFAULT 0,
	max_concurrent BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE roles (
	name TEXT PRIMARY KEY,
	grants TEXT NOT NULL,
	models TEXT NOT NULL DEFAULT '[]',
	updated_at BIGINT NOT NULL
);
CREATE TABLE usage_totals (
	kind TEXT NOT NULL,
	principal_id TEXT NOT NULL,
	model TEXT NOT NULL,
	day BIGINT NOT NULL,
	requests BIGINT NOT NULL DEFAULT 0,
	prompt_tokens BIGINT NOT NULL DEFAULT 0,
	cache_hit_tokens BIGINT NOT NULL DEFAULT 0,
	completion_tokens BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (kind, principal_id, model, day)
);
CREATE TABLE revoked_tokens (
	seq BIGSERIAL PRIMARY KEY,
	jti TEXT NOT NULL UNIQUE,
	expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);
CREATE TABLE signing_keys (
	kid TEXT PRIMARY KEY,
	algorithm TEXT NOT NULL,
	private_key BYTEA NOT NULL,
	public_key BYTEA NOT NULL,
	created_at BIGINT NOT NULL,
	activates_at BIGINT NOT NULL,
	retired_at BIGINT NOT NULL DEFAULT 0
);
