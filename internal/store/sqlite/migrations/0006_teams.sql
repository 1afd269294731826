-- Teams: keys and OAuth2 clients may belong to one team, whose model
-- allow-list, rate limits and budgets apply in addition to the member's own.
CREATE TABLE teams (
	name TEXT PRIMARY KEY,
	models TEXT NOT NULL DEFAULT '[]',
	rpm BIGINT NOT NULL DEFAULT 0,
	tpm BIGINT NOT NULL DEFAULT 0,
	max_concurrent BIGINT NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL
);
CREATE TABLE team_members (
	kind TEXT NOT NULL,
	principal_id TEXT NOT NULL,
	team TEXT NOT NULL,
	PRIMARY KEY (kind, principal_id)
);
CREATE INDEX team_members_team ON team_members (team);
