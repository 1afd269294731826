// Package batch answers many inference requests for one caller:
//
//   - the synchronous batch endpoint POST /v1/batch (sync.go), which runs
//     every item through the inference pipeline with bounded fan-out and
//     answers each in input order with its own result or error;
//   - OpenAI's Files and Batch APIs (/v1/files, /v1/batches; api.go), whose
//     jobs a Manager runs in the background with a worker pool (manager.go,
//     job.go). Jobs, file metadata and every answered line are kept in the
//     control-plane store (store.BatchStore); file bytes in a Blobs (local
//     disk, or S3). A restarted gateway resumes unfinished jobs and never
//     runs an answered line twice: a line's answer and the job's counters
//     are written in one transaction, and only lines without one are sent.
//
// Every item goes through Executor, which applies the same steps as the
// HTTP inference handler: validate, RBAC model check, rate-limit admission,
// gateway call, settlement. The package must not import internal/config,
// internal/server, internal/httpapi or internal/grpcapi.
package batch
