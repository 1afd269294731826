// Package audit owns dsgate's audit trail: one Event per API request,
// sealed into a tamper-evident hash chain and delivered, without loss, to
// one or more sinks (a rotating JSON-lines file, stdout, Elasticsearch _bulk).
//
// Pipeline position: the last step of a request (after the response is
// written) calls Writer.Record, which never blocks. A single sequencer
// goroutine assigns each record its Seq and PrevHash, computes its Hash
// (SHA-256 over the canonical encoding documented on Event.ComputeHash) and
// appends it to a disk spool, fsync'd per batch. One deliverer per sink reads
// the spool in order and advances a per-sink cursor on disk after each
// acknowledged batch, so a sink outage or a process restart loses nothing
// and the file sink never gets a record twice (it also skips seqs it holds).
// Elasticsearch re-sends are idempotent through the event id (_id).
//
// Verify and VerifyFiles check a chain (modified, missing, reordered and
// re-linked records, with file and line); `dsgate audit verify` wraps them.
// The chain alone is unkeyed: it proves consistency, not that nobody cut the
// tail or recomputed the hashes. CheckpointSink signs the file sink's head
// with Ed25519 (key ids, rotation); verifying with VerifyOptions.
// CheckpointKeys catches both, up to the unsigned records after the last
// checkpoint (checkpoint.go says exactly what is and is not proven).
//
// The package imports only the standard library and client_golang's
// interfaces (for the optional collectors in Options.Metrics). It must not
// import internal/config, server, httpapi, cli or metrics: the composition
// root maps config onto Options and passes the collectors in.
package audit
