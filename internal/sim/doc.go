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
// which lets benchmarks pick the output length. In thinking mode half of
// the completion tokens (rounded down) are reasoning tokens, three quarters
// at DeepSeek's "max" effort. Exceptions: a stop sequence ends the answer
// before it (finish_reason "stop"), and JSON output is a complete value
// (finish_reason "stop") unless the limit cuts it ("length"). Such answers
// are counted in pieces: up to and including a space, at most 16 bytes.
//
// Request features: n choices (streamed one after another, each delta
// carrying its index); stop as a string or an array; response_format
// json_object (an object with an "answer") and json_schema (a value
// generated from the schema); thinking {"type":"enabled"|"disabled"}
// overriding the model's default (models named *reasoner* or *r1*
// reason). Tool calls: tool_choice "none" never calls, "required" calls
// the first tool, a named function calls it, and "auto" calls when the
// last message is a user message that mentions a tool (its name, or a word
// of four letters or more of it) or "weather" (the first tool).
// Arguments are generated from the tool's parameters schema (types,
// enums, required and optional properties, nested objects and arrays,
// local $ref); argument fragments stream at tool index 0.
//
// Personalities. The plain simulator (the default) is permissive: it
// serves whatever model names it is given and ignores what it does not
// know. PersonalityDeepSeek is a strict double of DeepSeek's cloud API as
// documented at api-docs.deepseek.com (checked 2026-12): model names
// deepseek-v4-flash, deepseek-v4-pro and deepseek-flash, any other name
// (the retired aliases deepseek-chat and deepseek-reasoner included)
// answered with DeepSeek's 400; thinking on by default, reasoning_effort
// low/medium mapped to high and xhigh to max; the 400 for a thinking-mode
// assistant turn with tool calls but no reasoning_content; response_format
// text or json_object only (json_object needs "json" in a system or user
// message); n must be 1; FIM only at /beta/completions and refused in
// thinking mode; no embeddings; usage with prompt_cache_hit_tokens counted
// on the longest message prefix an earlier request shared; GET
// /user/balance, and 402 once the balance is spent; keep-alives while a
// request waits. Options.APIKey (either personality) requires a bearer
// key and answers DeepSeek's 401 bodies. Message texts DeepSeek publishes
// or is observed to return are copied exactly; the others (bad thinking
// type or effort, n > 1, FIM in thinking mode) are written to match the
// rule and are marked as such in deepseek.go.
//
// Options.ContextLength (--context-length) bounds the prompt: a longer one
// gets the 400 the personality's engine answers (llama-server's
// exceed_context_size_error with n_prompt_tokens and n_ctx for the plain
// simulator; DeepSeek's maximum-context message for the DeepSeek
// personality). e2e's engine conformance suite runs the same table of
// requests against the simulator and a real llama-server.
//
// Latency (time to first token, tokens per second, a concurrency cap that
// queues requests) and faults (error statuses, latency spikes, streams cut
// or stalled mid-way) are configurable; faults can be changed at run time
// with SetFaults and the balance with SetBalance. Every wait ends when the
// request context is done, and the package starts no goroutines.
//
// sim is a leaf: it imports only the standard library and must not import
// internal/config, internal/server, internal/httpapi or internal/cli.
package sim
