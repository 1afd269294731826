// Package usage records token usage per API key and OAuth2 client (prompt,
// cache-hit and completion tokens, request count) into the control-plane
// store. It is step 13 of the request pipeline.
//
// Record never waits on the store and never drops a record: it adds the
// amounts into an in-memory map of buckets (one per principal, model,
// currency and UTC hour the request started in) under a mutex, and Run flushes the map to the store in one
// transaction per batch. A failed flush puts the amounts back and retries
// with backoff, so totals stay exact however long the store is down; memory
// grows only with the number of distinct buckets, not with traffic. Close
// flushes what is left.
//
// A recorder made by Open also survives a crash of its process: Record
// first appends the record to a local journal file (on Linux a copy into
// the file mapped in memory, elsewhere one write call; no fsync: what is
// written survives SIGKILL, as the audit spool does), and
// each flush stores the journal's mark (its last record's number) in the
// same transaction as the totals. At the next Open, or with `dsgate usage
// reconcile`, the records after the mark are replayed, each exactly once.
// A lock on the file keeps a second process off a journal in use.
//
// FromAudit and Reconcile check the store against the audit trail (`dsgate
// usage reconcile`): the metered audit records, summed per principal,
// model, currency and day or hour, must equal the stored buckets exactly.
//
// usage imports store and audit; it must not import config, server, httpapi or cli.
package usage
