package plan

import (
	"fmt"
	"slices"
	"strings"
)

// Precision is a weight storage format and its cost in bits per weight.
type Precision struct {
	Name string
	// Bits is the average storage cost per weight, scales included.
	Bits float64
	// Embed16 keeps the embedding and output head at 16 bits, as GPTQ, AWQ,
	// FP8 and INT8 checkpoints for vLLM/SGLang do.
	Embed16 bool
	// ExpertBits, when non-zero, applies to routed-expert weights only
	// (DeepSeek-V4's FP4 experts); Bits applies to the rest.
	ExpertBits float64
	// Engine is the quantization family an engine flag would name:
	// "", "fp8", "gptq", "awq", "gguf".
	Engine string
	Source string
}

// llama3_8BParams is Meta-Llama-3-8B's exact parameter count; llama.cpp's
// quantize tool reports K-quant mix sizes for that model.
const llama3_8BParams = 8_030_261_248

// ggufMixBits turns a llama.cpp-reported file size in GiB for
// Llama-3-8B into average bits per weight.
func ggufMixBits(gib float64) float64 {
	return gib * 8 * (1 << 30) / llama3_8BParams
}

const (
	srcDtype = "IEEE/bfloat16 element size"
	srcGPTQ  = "4-bit weights + per-group (128) fp16 scale and packed 4-bit zero point: 4 + 20/128 bits (GPTQ/AWQ default group size)"
	srcBlock = "llama.cpp ggml block layout (ggml-common.h): bytes per block / weights per block"
	srcMix   = "llama.cpp tools/quantize size table for Llama-3-8B (GiB x 8 x 2^30 / 8.03e9 weights)"
)

func precisions() []Precision {
	return []Precision{
		{Name: "fp32", Bits: 32, Source: srcDtype},
		{Name: "bf16", Bits: 16, Source: srcDtype},
		{Name: "fp16", Bits: 16, Source: srcDtype},
		{Name: "fp8", Bits: 8, Embed16: true, Engine: "fp8", Source: "FP8 E4M3 weights; block (128x128) or per-channel scales add <0.1%"},
		{Name: "int8", Bits: 8, Embed16: true, Engine: "int8", Source: "INT8 W8A8 with per-channel scales (<0.1% extra)"},
		{Name: "int4-gptq", Bits: 4 + 20.0/128, Embed16: true, Engine: "gptq", Source: srcGPTQ},
		{Name: "int4-awq", Bits: 4 + 20.0/128, Embed16: true, Engine: "awq", Source: srcGPTQ},
		{Name: "mxfp4", Bits: 4.25, Embed16: true, Engine: "mxfp4", Source: "OCP MX FP4 (E2M1) + one E8M0 scale per 32 weights"},
		{Name: "v4-native", Bits: 8, ExpertBits: 4.25, Embed16: true, Source: "DeepSeek-V4 checkpoint: routed experts MXFP4, other linear layers FP8, embeddings BF16"},
		{Name: "q8_0", Bits: 34.0 * 8 / 32, Engine: "gguf", Source: srcBlock},
		{Name: "q6_k", Bits: 210.0 * 8 / 256, Engine: "gguf", Source: srcBlock},
		{Name: "q5_k_m", Bits: ggufMixBits(5.33), Engine: "gguf", Source: srcMix},
		{Name: "q5_k_s", Bits: ggufMixBits(5.21), Engine: "gguf", Source: srcMix},
		{Name: "q5_0", Bits: 22.0 * 8 / 32, Engine: "gguf", Source: srcBlock},
		{Name: "q4_k_m", Bits: ggufMixBits(4.58), Engine: "gguf", Source: srcMix},
		{Name: "q4_k_s", Bits: ggufMixBits(4.37), Engine: "gguf", Source: srcMix},
		{Name: "q4_0", Bits: 18.0 * 8 / 32, Engine: "gguf", Source: srcBlock},
		{Name: "iq4_xs", Bits: 4.25, Engine: "gguf", Source: srcBlock},
		{Name: "q3_k_m", Bits: ggufMixBits(3.74), Engine: "gguf", Source: srcMix},
		{Name: "q3_k_s", Bits: ggufMixBits(3.41), Engine: "gguf", Source: srcMix},
		{Name: "q2_k", Bits: ggufMixBits(2.96), Engine: "gguf", Source: srcMix},
		{Name: "iq2_xxs", Bits: 66.0 * 8 / 256, Engine: "gguf", Source: srcBlock},
		{Name: "iq1_s", Bits: 50.0 * 8 / 256, Engine: "gguf", Source: srcBlock},
	}
}

var precisionAliases = map[string]string{
	"float32": "fp32", "f32": "fp32",
	"bfloat16": "bf16", "float16": "fp16", "f16": "fp16", "half": "fp16",
	"int4": "int4-awq", "awq": "int4-awq", "gptq": "int4-gptq", "w4a16": "int4-gptq",
	"w8a8": "int8", "fp4": "mxfp4", "q4_k": "q4_k_m", "q5_k": "q5_k_m", "q3_k": "q3_k_m",
}

// ParsePrecision finds a precision by name (case-insensitive). "native"
// must be resolved against a model first (see Model.NativePrecision).
func ParsePrecision(name string) (Precision, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := precisionAliases[n]; ok {
		n = a
	}
	for _, p := range precisions() {
		if p.Name == n {
			return p, nil
		}
	}
	return Precision{}, fmt.Errorf("unknown precision %q (one of native, %s)", name, strings.Join(PrecisionNames(), ", "))
}

// PrecisionNames lists the accepted precision names.
func PrecisionNames() []string {
	var out []string
	for _, p := range precisions() {
		out = append(out, p.Name)
	}
	return slices.Clip(out)
}

// WeightBytes applies a precision to a model's parameter census:
// bytes = params x bits / 8, with the embedding/output head at 16 bits when
// the format keeps them unquantized, and routed experts at ExpertBits when
// set. Example: 7e9 params at fp16 = 7e9 x 16 / 8 = 14 GB.
func (p Precision) WeightBytes(m Model) float64 {
	rest := m.Params
	var b float64
	if p.Embed16 && m.EmbedParams > 0 && m.EmbedParams < rest {
		b += m.EmbedParams * 2
		rest -= m.EmbedParams
	}
	if p.ExpertBits > 0 && m.ExpertParams > 0 && m.ExpertParams < rest {
		b += m.ExpertParams * p.ExpertBits / 8
		rest -= m.ExpertParams
	}
	return b + rest*p.Bits/8
}

// kvElemBytes returns bytes per cached KV element for a --kv-dtype value.
// "auto" follows vLLM: the model's activation dtype, which is 2 bytes
// (bf16/fp16) for every format here except fp32.
func kvElemBytes(kvDtype string, p Precision) (float64, string, error) {
	switch strings.ToLower(kvDtype) {
	case "", "auto":
		if p.Name == "fp32" {
			return 4, "fp32", nil
		}
		return 2, "bf16", nil
	case "bf16", "fp16", "bfloat16", "float16":
		return 2, strings.ToLower(kvDtype), nil
	case "fp8", "fp8_e4m3", "fp8_e5m2", "int8", "q8_0":
		return 1, strings.ToLower(kvDtype), nil
	case "fp32", "float32":
		return 4, "fp32", nil
	case "fp4", "nvfp4", "mxfp4":
		// DeepSeek-V4.1's KV is trained for FP4 storage (Blackwell kernels).
		return 0.5, "fp4", nil
	}
	return 0, "", fmt.Errorf("unknown KV-cache dtype %q (auto, bf16, fp16, fp8, fp4, fp32)", kvDtype)
}
