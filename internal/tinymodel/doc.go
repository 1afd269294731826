// Package tinymodel writes tiny deterministic GGUF models for llama.cpp's
// llama-server, for the engine conformance suite (e2e TestEngine*) and the
// engine benchmark (bench/engine). A model takes a real tokenizer
// vocabulary and chat template from the pinned llama.cpp source that
// scripts/llamacpp.sh caches (LlamaHome), and weights set by hand so that
// what it says is fixed: see model.go for the "bigram machine" and
// models.go for the two models and their outputs.
//
// It also reads and writes GGUF files (gguf.go). It imports only the
// standard library; nothing in the product imports it.
package tinymodel
