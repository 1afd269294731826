// Package sim is dsgate's built-in simulator engine: an OpenAI-compatible
// HTTP server that behaves like a DeepSeek model. It backs tests, the
// throughput benchmarks (as the upstream) and the offline quick start, and
// is always labelled as a simulator (owned_by "dsgate-sim", system
// fingerprint "fp_dsgate_sim").
//
// A Server serves chat completions (JSON and SSE, reasoning content, tool
// calls), legacy and FIM text completions, embeddings, the model list,
// /health and vLLM-named Prometheus metrics. Output is deterministic: the
// text is drawn from a fixed word list by a PRNG seeded with a hash of the
// model and the prompt, so the same request always gets the same answer.
// One token is one word plus a space.
//
// Length rule: a request without max_tokens (or max_completion_tokens) gets
// Options.MaxTokens completion tokens and finish_reason "stop"; a request
// with a limit gets exactly that many tokens and finish_reason "length",
// which lets benchmarks pick the output length. For reasoning models half of
// the completion tokens (rounded down) are reasoning tokens.
//
// Latency (time to first token, tokens per second, a concurrency cap that
// queues requests) and faults (error statuses, latency spikes, streams cut
// or stalled mid-way) are configurable; faults can be changed at run time
// with SetFaults. Every wait ends when the request context is done, and the
// package starts no goroutines.
//
// sim is a leaf: it imports only the standard library and must not import
// internal/config, internal/server, internal/httpapi or internal/cli.
package sim
