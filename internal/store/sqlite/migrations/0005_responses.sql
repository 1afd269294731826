CREATE TABLE stored_responses (
	owner TEXT NOT NULL,
	id TEXT NOT NULL,
	model TEXT NOT NULL,
	input BLOB NOT NULL,
	response BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (owner, id)
);
