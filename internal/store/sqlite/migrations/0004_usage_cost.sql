-- Cost accounting: each usage bucket carries its cost and cache savings in
-- nano-units (1e-9) of its currency. The currency joins the bucket key, so
-- a principal's usage of one model priced in two currencies on one day
-- (two upstreams billing in USD and CNY) is never summed across them;
-- unpriced usage has currency ''.
CREATE TABLE usage_totals_v3 (
	kind TEXT NOT NULL,
	principal_id TEXT NOT NULL,
	model TEXT NOT NULL,
	day BIGINT NOT NULL,
	currency TEXT NOT NULL DEFAULT '',
	requests BIGINT NOT NULL DEFAULT 0,
	prompt_tokens BIGINT NOT NULL DEFAULT 0,
	cache_hit_tokens BIGINT NOT NULL DEFAULT 0,
	completion_tokens BIGINT NOT NULL DEFAULT 0,
	cost_nano BIGINT NOT NULL DEFAULT 0,
	cost_saved_nano BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (kind, principal_id, model, day, currency)
);
INSERT INTO usage_totals_v3 (kind, principal_id, model, day, requests, prompt_tokens, cache_hit_tokens, completion_tokens)
	SELECT kind, principal_id, model, day, requests, prompt_tokens, cache_hit_tokens, completion_tokens FROM usage_totals;
DROP TABLE usage_totals;
ALTER TABLE usage_totals_v3 RENAME TO usage_totals;
