-- usage_journal_marks holds, per usage journal (a gateway's local log of
-- usage records), the sequence number of the last record added to
-- usage_totals. It is advanced in the same transaction as the totals, so a
-- journal replayed after a crash adds each record exactly once.
CREATE TABLE usage_journal_marks (
	journal TEXT PRIMARY KEY,
	seq BIGINT NOT NULL
);
