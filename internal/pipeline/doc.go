// Package pipeline is dsgate's one request sequence, free of any transport:
// parse and validate the body, authorize the model, admit the call under
// the caller's limits, call the gateway, settle the limits and usage, and
// fill the per-request record (reqscope.Scope: principal, role, model,
// upstream, tokens, cache result, error).
//
// HTTP (internal/httpapi), gRPC (internal/grpcapi), POST /v1/batch and the
// Batch API (internal/batch) all call Pipeline.Run, so they cannot drift
// apart. Each batch item and each Batch API line goes through
// Pipeline.Item: one admitted, metered, audited call with its principal,
// recovered on its own when it panics.
//
// The Recorder (metrics and audit record of a finished request) lives here
// too, so the transports and the batch items are counted alike.
package pipeline
