CREATE TABLE batch_files (
	id TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	filename TEXT NOT NULL,
	purpose TEXT NOT NULL,
	bytes INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX batch_files_owner ON batch_files (owner, created_at);
CREATE TABLE batches (
	id TEXT PRIMARY KEY,
	owner TEXT NOT NULL,
	principal BLOB NOT NULL,
	endpoint TEXT NOT NULL,
	input_file_id TEXT NOT NULL,
	completion_window TEXT NOT NULL,
	status TEXT NOT NULL,
	output_file_id TEXT NOT NULL DEFAULT '',
	error_file_id TEXT NOT NULL DEFAULT '',
	model TEXT NOT NULL DEFAULT '',
	metadata TEXT NOT NULL DEFAULT '{}',
	errors BLOB,
	created_at INTEGER NOT NULL,
	in_progress_at INTEGER NOT NULL DEFAULT 0,
	expires_at INTEGER NOT NULL DEFAULT 0,
	finalizing_at INTEGER NOT NULL DEFAULT 0,
	completed_at INTEGER NOT NULL DEFAULT 0,
	failed_at INTEGER NOT NULL DEFAULT 0,
	expired_at INTEGER NOT NULL DEFAULT 0,
	cancelling_at INTEGER NOT NULL DEFAULT 0,
	cancelled_at INTEGER NOT NULL DEFAULT 0,
	total INTEGER NOT NULL DEFAULT 0,
	completed INTEGER NOT NULL DEFAULT 0,
	failed INTEGER NOT NULL DEFAULT 0,
	prompt_tokens INTEGER NOT NULL DEFAULT 0,
	cached_tokens INTEGER NOT NULL DEFAULT 0,
	completion_tokens INTEGER NOT NULL DEFAULT 0,
	reasoning_tokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX batches_owner ON batches (owner, created_at);
CREATE INDEX batches_status ON batches (status);
CREATE TABLE batch_items (
	batch_id TEXT NOT NULL,
	line INTEGER NOT NULL,
	custom_id TEXT NOT NULL,
	failed BOOLEAN NOT NULL,
	output BLOB NOT NULL,
	prompt_tokens INTEGER NOT NULL DEFAULT 0,
	cached_tokens INTEGER NOT NULL DEFAULT 0,
	completion_tokens INTEGER NOT NULL DEFAULT 0,
	reasoning_tokens INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (batch_id, line)
);
