-- Hourly usage buckets: the bucket key gains the UTC hour the requests
-- started in (hour, microseconds since the epoch, like day), so reports can
-- group by hour over any range and cut days in any time zone. day stays in
-- the key (the UTC midnight of hour) so daily sums and range filters work
-- on buckets from before this migration, which know their day only: they
-- keep hour = 0, meaning "hour unknown".
CREATE TABLE usage_totals_v4 (
	kind TEXT NOT NULL,
	principal_id TEXT NOT NULL,
	model TEXT NOT NULL,
	day BIGINT NOT NULL,
	hour BIGINT NOT NULL DEFAULT 0,
	currency TEXT NOT NULL DEFAULT '',
	requests BIGINT NOT NULL DEFAULT 0,
	prompt_tokens BIGINT NOT NULL DEFAULT 0,
	cache_hit_tokens BIGINT NOT NULL DEFAULT 0,
	completion_tokens BIGINT NOT NULL DEFAULT 0,
	cost_nano BIGINT NOT NULL DEFAULT 0,
	cost_saved_nano BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (kind, principal_id, model, day, hour, currency)
);
INSERT INTO usage_totals_v4 (kind, principal_id, model, day, hour, currency, requests, prompt_tokens, cache_hit_tokens,
		completion_tokens, cost_nano, cost_saved_nano)
	SELECT kind, principal_id, model, day, 0, currency, requests, prompt_tokens, cache_hit_tokens, completion_tokens,
		cost_nano, cost_saved_nano FROM usage_totals;
DROP TABLE usage_totals;
ALTER TABLE usage_totals_v4 RENAME TO usage_totals;
-- Reports read a time range of every principal: index the time.
CREATE INDEX usage_totals_day_hour ON usage_totals (day, hour);
