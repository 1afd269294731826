-- Runtime overrides of the cost configuration made through the admin API
-- and shared by every replica: kind 'price' (a pricing.models entry) or
-- 'budget' (a budgets.rules entry); body is the entry as JSON, with the
-- config file's keys. The config file stays the base they are merged on.
CREATE TABLE cost_overrides (
	kind TEXT NOT NULL,
	name TEXT NOT NULL,
	body TEXT NOT NULL,
	updated_by TEXT NOT NULL DEFAULT '',
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (kind, name)
);
