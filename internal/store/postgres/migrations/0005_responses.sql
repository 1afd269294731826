CREATE TABLE stored_responses (
	owner TEXT NOT NULL,
	id TEXT NOT NULL,
	model TEXT NOT NULL,
	input BYTEA NOT NULL,
	response BYTEA NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (owner, id)
);
