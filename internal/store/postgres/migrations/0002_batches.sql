CREATE TABLE batch_files (
	id TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	filename TEXT NOT NULL,
	purpose TEXT NOT NULL,
	bytes BIGINT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX batch_files_owner ON batch_files (owner, created_at);
CREATE TABLE batches (
	id TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	principal BYTEA NOT NULL,
	endpoint TEXT NOT NULL,
	input_file_id TEXT NOT NULL,
	completion_window TEXT NOT NULL,
	status TEXT NOT NULL,
	output_file_id TEXT NOT NULL DEFAULT '',
	error_file_id TEXT NOT NULL DEFAULT '',
	model TEXT NOT NULL DEFAULT '',
	metadata TEXT NOT NULL DEFAULT '{}',
	errors BYTEA,
	created_at BIGINT NOT NULL,
	in_progress_at BIGINT NOT NULL DEFAULT 0,
	expires_at BIGINT NOT NULL DEFAULT 0,
	finalizing_at BIGINT NOT NULL DEFAULT 0,
	completed_at BIGINT NOT NULL DEFAULT 0,
	failed_at BIGINT NOT NULL DEFAULT 0,
	expired_at BIGINT NOT NULL DEFAULT 0,
	cancelling_at BIGINT NOT NULL DEFAULT 0,
	cancelled_at BIGINT NOT NULL DEFAULT 0,
	total BIGINT NOT NULL DEFAULT 0,
	completed BIGINT NOT NULL DEFAULT 0,
	failed BIGINT NOT NULL DEFAULT 0,
	prompt_tokens BIGINT NOT NULL DEFAULT 0,
	cached_tokens BIGINT NOT NULL DEFAULT 0,
	completion_tokens BIGINT NOT NULL DEFAULT 0,
	reasoning_tokens BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX batches_owner ON batches (owner, created_at);
CREATE INDEX batches_status ON batches (status);
CREATE TABLE batch_items (
	batch_id TEXT NOT NULL,
	line BIGINT NOT NULL,
	custom_id TEXT NOT NULL,
	failed BOOLEAN NOT NULL,
	output BYTEA NOT NULL,
	prompt_tokens BIGINT NOT NULL DEFAULT 0,
	cached_tokens BIGINT NOT NULL DEFAULT 0,
	completion_tokens BIGINT NOT NULL DEFAULT 0,
	reasoning_tokens BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (batch_id, line)
);
