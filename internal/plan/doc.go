// Package plan sizes GPU hardware for serving DeepSeek models (and any
// Llama/Qwen-style or DeepSeek MoE model described by a config.json,
// a safetensors index or a GGUF header).
//
// It answers one question: for a model, a weight precision, a context length
// and a number of concurrent sequences, how much GPU memory is needed for the
// weights, the KV cache and the runtime, and which GPU types with which
// tensor-parallel (TP) and pipeline-parallel (PP) sizes hold it.
//
// Every formula is written next to the code that applies it, with its source,
// and docs/operations.md repeats them for operators. Figures are estimates
// for planning, not measurements: the engine's own profiler (vLLM prints
// "model weights take X GiB" and the KV cache size at start-up) is the final
// word.
//
// Units: 1 GB = 1e9 bytes throughout, so "7B parameters at fp16 = 14 GB"
// reads directly. GPU capacities use the vendor's marketed figure in the
// same unit, which is conservative by up to 7% for cards whose "GB" is
// really GiB.
//
// The package is a leaf: it imports only the standard library and must not
// import internal/config, internal/server, internal/httpapi or internal/cli.
package plan
