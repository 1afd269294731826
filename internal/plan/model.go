package plan

import "math"

// Attention is the KV-cache layout of a model.
type Attention int

// KV-cache layouts.
const (
	// AttentionGQA caches a key and a value vector per KV head per layer
	// (multi-head, grouped-query and multi-query attention).
	AttentionGQA Attention = iota
	// AttentionMLA caches one compressed latent plus a decoupled RoPE key
	// per layer (DeepSeek-V2/V3 multi-head latent attention).
	AttentionMLA
	// AttentionCompressed is DeepSeek-V4's hybrid of a sliding window and
	// compressed KV rows (CSA/HCA).
	AttentionCompressed
)

func (a Attention) String() string {
	switch a {
	case AttentionMLA:
		return "MLA"
	case AttentionCompressed:
		return "CSA/HCA (compressed)"
	default:
		return "GQA"
	}
}

// Model is everything sizing needs to know about one model.
type Model struct {
	Name   string // catalogue key or file name
	Title  string // human-readable name
	HFRepo string // Hugging Face repository, when known
	Config Config // architecture

	Params       float64 // total weights
	ActiveParams float64 // weights used per token (equal to Params for dense models)
	ExpertParams float64 // routed-expert weights
	EmbedParams  float64 // embedding + output head

	// NativePrecision is the precision the published checkpoint uses
	// ("bf16", "fp8", or "v4-native" for FP4 experts + FP8 elsewhere).
	NativePrecision string
	// Reasoning marks models that emit <think> blocks (R1 and its distills).
	Reasoning bool
	// Family is the engine parser family (engine.Family: "r1-distill",
	// "v3.2", "v4", ...); empty for models read from files.
	Family string
	// Notes explain how the model's figures are derived; they are copied
	// into every sizing of it.
	Notes []string
	// Estimate marks catalogue entries whose numbers are partly assumed;
	// Assumptions says which.
	Estimate    bool
	Assumptions []string
	// Source says where the numbers come from.
	Source string
	// FixedWeightBytes, when non-zero, is the exact weight size read from
	// a safetensors index or GGUF file; it replaces params x precision.
	FixedWeightBytes float64
	FixedPrecision   string
	// FixedSource says where FixedWeightBytes comes from; default: the
	// tensor sizes of the file read.
	FixedSource string
	// KVBytesPerToken, when non-zero, is a published KV-cache size per
	// token at KVBytesPerTokenElem bytes per element; it replaces the
	// per-layer formula and scales with the KV dtype's element size.
	KVBytesPerToken     float64
	KVBytesPerTokenElem float64
}

// FromConfig builds a Model from an architecture, counting its parameters.
func FromConfig(name string, c Config) Model {
	p := countParams(c)
	return Model{
		Name:            name,
		Title:           name,
		Config:          c,
		Params:          p.Total,
		ActiveParams:    p.Active,
		ExpertParams:    p.Expert,
		EmbedParams:     p.Embed,
		NativePrecision: c.nativePrecision(),
		Source:          "computed from config.json",
	}
}

// Attention reports the model's KV-cache layout.
func (m Model) Attention() Attention { return m.Config.attention() }

// MoE reports whether the model routes tokens through experts.
func (m Model) MoE() bool { return m.Config.NRoutedExperts > 0 }

// KVBytesPerSequence returns the KV-cache bytes one sequence of ctx tokens
// needs across all layers, with elemBytes bytes per cached element.
//
// GQA (Llama/Qwen): 2 (K and V) x layers x kv_heads x head_dim x bytes per
// token; the standard PagedAttention sizing (vLLM paper, Kwon et al. 2023).
//
// MLA (DeepSeek-V2 paper, eq. 9-11 and table 1): the cache holds the
// compressed latent c_KV (kv_lora_rank) and the decoupled RoPE key
// (qk_rope_head_dim) per layer: layers x (kv_lora_rank + qk_rope_head_dim)
// x bytes per token. For V3: 61 x 576 x 2 = 70,272 bytes per token in bf16.
// DeepSeek-V3.2 adds the DSA indexer's key (index_head_dim) per layer:
// 61 x (576 + 128) x 2 = 85,888 bytes per token.
//
// Published per-token size (KVBytesPerToken, DeepSeek-V4.1-Flash's 890 B
// at FP4): that size x elemBytes / KVBytesPerTokenElem x ctx.
//
// DeepSeek-V4: every layer keeps a sliding window of the last
// sliding_window tokens at head_dim; a layer with compress ratio r > 0 adds
// ceil(ctx/r) compressed rows at head_dim; ratio-4 (CSA) layers add the
// lightning indexer's keys, ceil(ctx/4) x index_head_dim. The layer pattern
// comes from compress_ratios in config.json.
func (m Model) KVBytesPerSequence(ctx int, elemBytes float64) float64 {
	c := m.Config
	t := float64(ctx)
	if m.KVBytesPerToken > 0 && m.KVBytesPerTokenElem > 0 {
		return m.KVBytesPerToken * elemBytes / m.KVBytesPerTokenElem * t
	}
	switch m.Attention() {
	case AttentionMLA:
		return float64(c.NumHiddenLayers) * float64(c.KVLoRARank+c.QKRopeHeadDim+c.IndexHeadDim) * t * elemBytes
	case AttentionCompressed:
		hd := float64(c.headDim())
		window := float64(min(ctx, max(c.SlidingWindow, 0)))
		var elems float64
		for i := range c.NumHiddenLayers {
			r := 0
			if i < len(c.CompressRatios) {
				r = c.CompressRatios[i]
			}
			rows := window
			if r > 0 {
				rows += math.Ceil(t / float64(r))
			}
			elems += rows * hd
			if r == 4 {
				elems += math.Ceil(t/4) * float64(c.IndexHeadDim)
			}
		}
		return elems * elemBytes
	default:
		return 2 * float64(c.NumHiddenLayers) * float64(c.kvHeads()) * float64(c.headDim()) * t * elemBytes
	}
}
