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
// It imports only internal/openai.
package upstream
