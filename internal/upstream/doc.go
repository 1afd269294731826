// Package upstream talks to the engines and cloud APIs behind dsgate and
// chooses among them.
//
// An Upstream is one OpenAI-compatible server (DeepSeek's cloud API, vLLM,
// SGLang, Ollama's /v1, llama.cpp server, or the built-in simulator) with a
// pooled, keep-alive HTTP client. A Pool holds the Targets that serve one
// public model, grouped in priority tiers, and picks one with a Selector
// among those that are Available. Transport failures and upstream HTTP
// errors are classified here, at the boundary, into *Error.
//
// What one caller sends never affects another. A failure is charged to an
// upstream's circuit breaker by its Blame: unambiguous upstream failures
// (connect errors, timeouts, 429, 502, 503, 504, a stream cut short,
// dsgate's own credentials refused, failed active probes) count at once;
// failures the request caused (BlameRequest) never count; a failure whose
// blame stays unsure (BlameUnsure: an unexplained 500 that no second
// upstream confirmed as the request's) counts only when calls of at least
// two distinct principals caused such failures on that upstream within the
// breaker's window (Upstream.FailUnsure). One tenant's crafted requests
// thus cannot open a breaker, however many it sends; the price is that a
// deployment with a single active principal never opens a breaker on
// unexplained 500s alone (they are still retried on other targets).
//
// It imports only internal/openai.
package upstream
