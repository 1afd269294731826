package plan

import (
	"fmt"
	"slices"
	"strings"
)

// The architecture numbers below are copied from each model's published
// config.json on Hugging Face (deepseek-ai/<repo>/config.json); totals and
// activated parameters are the model cards' figures. The catalogue test
// recomputes every total from the architecture and checks it stays within
// 2% of the published one (3% for V4, whose compressor and
// hyper-connection weights the census leaves out). DeepSeek-V4.1-Flash's
// Engram tables and cross-layer KV are outside the census: its weight and
// KV sizes are the published checkpoint's and model card's.

func deepseekV3() Config {
	return Config{
		ModelType: "deepseek_v3", HiddenSize: 7168, IntermediateSize: 18432,
		NumHiddenLayers: 61, NumAttentionHeads: 128, NumKeyValueHeads: 128,
		VocabSize: 129280, MaxPositionEmbeddings: 163840, TorchDtype: "bfloat16",
		KVLoRARank: 512, QLoRARank: 1536, QKRopeHeadDim: 64, QKNopeHeadDim: 128, VHeadDim: 128,
		NRoutedExperts: 256, NSharedExperts: 1, NumExpertsPerTok: 8,
		MoEIntermediateSize: 2048, FirstKDenseReplace: 3, MoELayerFreq: 1,
		QuantizationConfig: &QuantizationConfig{QuantMethod: "fp8", Fmt: "e4m3"},
	}
}

func deepseekV2Lite() Config {
	return Config{
		ModelType: "deepseek_v2", HiddenSize: 2048, IntermediateSize: 10944,
		NumHiddenLayers: 27, NumAttentionHeads: 16, NumKeyValueHeads: 16,
		VocabSize: 102400, MaxPositionEmbeddings: 163840, TorchDtype: "bfloat16",
		KVLoRARank: 512, QKRopeHeadDim: 64, QKNopeHeadDim: 128, VHeadDim: 128,
		NRoutedExperts: 64, NSharedExperts: 2, NumExpertsPerTok: 6,
		MoEIntermediateSize: 1408, FirstKDenseReplace: 1, MoELayerFreq: 1,
	}
}

func deepseekCoderV2() Config {
	return Config{
		ModelType: "deepseek_v2", HiddenSize: 5120, IntermediateSize: 12288,
		NumHiddenLayers: 60, NumAttentionHeads: 128, NumKeyValueHeads: 128,
		VocabSize: 102400, MaxPositionEmbeddings: 163840, TorchDtype: "bfloat16",
		KVLoRARank: 512, QLoRARank: 1536, QKRopeHeadDim: 64, QKNopeHeadDim: 128, VHeadDim: 128,
		NRoutedExperts: 160, NSharedExperts: 2, NumExpertsPerTok: 6,
		MoEIntermediateSize: 1536, FirstKDenseReplace: 1, MoELayerFreq: 1,
	}
}

// v4FlashCompressRatios is DeepSeek-V4-Flash's compress_ratios from its
// config.json: [0, 0, 4, 128, 4, 128, ...] — layers 0 and 1 use the
// sliding window only, then ratio-4 (CSA, with the indexer) and ratio-128
// (HCA) layers alternate.
func v4FlashCompressRatios(layers int) []int {
	r := make([]int, layers)
	for i := 2; i < layers; i++ {
		r[i] = 4
		if i%2 == 1 {
			r[i] = 128
		}
	}
	return r
}

// v4ProCompressRatios is DeepSeek-V4-Pro's compress_ratios from its
// config.json: [128, 128, 4, 128, 4, ..., 4] for the 61 layers (the 62nd
// entry, 0, belongs to the MTP layer, which serving without speculative
// decoding does not load).
func v4ProCompressRatios(layers int) []int {
	r := make([]int, layers)
	for i := range layers {
		r[i] = 128
		if i >= 2 && i%2 == 0 {
			r[i] = 4
		}
	}
	return r
}

// deepseekV4 is the DeepSeek-V4 architecture; the shared fields are equal
// in the V4-Flash and V4-Pro config.json (head_dim 512, one KV head,
// qk_rope_head_dim 64, o_lora_rank 1024, sliding_window 128, indexer 64 x
// 128, 1 shared + 6 routed experts per token, vocab 129280, 1M positions,
// FP8 e4m3 with FP4 experts).
func deepseekV4(hidden, layers, heads, qLoRA, oGroups, experts, moeInter int, ratios []int) Config {
	return Config{
		ModelType: "deepseek_v4", HiddenSize: hidden, NumHiddenLayers: layers,
		NumAttentionHeads: heads, NumKeyValueHeads: 1, HeadDim: 512,
		VocabSize: 129280, MaxPositionEmbeddings: 1048576, TorchDtype: "bfloat16",
		QLoRARank: qLoRA, QKRopeHeadDim: 64, OLoRARank: 1024, OGroups: oGroups,
		NRoutedExperts: experts, NSharedExperts: 1, NumExpertsPerTok: 6,
		MoEIntermediateSize: moeInter, MoELayerFreq: 1,
		CompressRatios: ratios, SlidingWindow: 128,
		IndexHeadDim: 128, IndexNHeads: 64,
		QuantizationConfig: &QuantizationConfig{QuantMethod: "fp8", Fmt: "e4m3"},
	}
}

// deepseekV32 is DeepSeek-V3.2's config.json: V3's MLA and MoE shapes plus
// the DSA lightning indexer (index_n_heads 64, index_head_dim 128,
// index_topk 2048).
func deepseekV32() Config {
	c := deepseekV3()
	c.ModelType, c.IndexNHeads, c.IndexHeadDim = "deepseek_v32", 64, 128
	return c
}

// deepseekV41Flash is DeepSeek-V4.1-Flash's config.json (model_type
// deepseek_v41): 40 layers (a causal encoder-decoder, 20 + 20), hidden
// 5120, 64 heads of head_dim 512 over one KV head, q_lora_rank 1280,
// o_lora_rank 1024, o_groups 8, 384 routed + 1 shared experts, 6 per token,
// moe_intermediate_size 2304, sliding_window 128, quant_method fp8 with
// FP4 experts. Its attention (CSA2, KV shared across layers, Engram hash
// tables) is not the V4 layout, so its sizes come from the checkpoint and
// the model card instead of countParams (see the catalogue entry).
func deepseekV41Flash() Config {
	return Config{
		ModelType: "deepseek_v41", HiddenSize: 5120, NumHiddenLayers: 40,
		NumAttentionHeads: 64, NumKeyValueHeads: 1, HeadDim: 512,
		MaxPositionEmbeddings: 1048576, TorchDtype: "bfloat16",
		QLoRARank: 1280, QKRopeHeadDim: 64, OLoRARank: 1024, OGroups: 8,
		NRoutedExperts: 384, NSharedExperts: 1, NumExpertsPerTok: 6,
		MoEIntermediateSize: 2304, MoELayerFreq: 1, SlidingWindow: 128,
		QuantizationConfig: &QuantizationConfig{QuantMethod: "fp8", Fmt: "e4m3"},
	}
}

func qwen2(hidden, inter, layers, heads, kvHeads, vocab int) Config {
	return Config{
		ModelType: "qwen2", HiddenSize: hidden, IntermediateSize: inter,
		NumHiddenLayers: layers, NumAttentionHeads: heads, NumKeyValueHeads: kvHeads,
		VocabSize: vocab, MaxPositionEmbeddings: 131072, TorchDtype: "bfloat16",
	}
}

func llama(hidden, inter, layers, heads int) Config {
	return Config{
		ModelType: "llama", HiddenSize: hidden, IntermediateSize: inter,
		NumHiddenLayers: layers, NumAttentionHeads: heads, NumKeyValueHeads: 8,
		VocabSize: 128256, MaxPositionEmbeddings: 131072, TorchDtype: "bfloat16",
	}
}

// entry is one catalogue line: architecture plus published figures.
type entry struct {
	name, title, repo string
	cfg               Config
	total, active     float64 // published; 0 = use the computed count
	native            string
	family            string // engine.Family of the model (parser flags)
	reasoning         bool
	// fixed, when set, replaces the parameter census and the KV formula
	// with published figures (V4.1-Flash).
	fixed       *fixedSizes
	notes       []string
	assumptions []string
}

// fixedSizes are published sizes for a model whose architecture the
// census and KV formulas do not cover.
type fixedSizes struct {
	weightBytes, expert, embed float64
	precision                  string
	kvBytesPerToken, kvElem    float64 // per token at kvElem bytes per element
}

const v4KVNote = "DeepSeek-V4 KV cache per layer from config.json's compress_ratios: a 128-token sliding window at head_dim 512, " +
	"plus ctx/4 compressed rows and ctx/4 indexer keys (128 dims) on CSA layers or ctx/128 rows on HCA layers"

// v41Sizes are DeepSeek-V4.1-Flash's published sizes: the checkpoint's
// storage (510.31 GB: 557.2B MXFP4 expert entries including DSpark,
// 196.6B FP8 Engram entries, 7.4B FP8 attention/dense, 2.0B BF16
// embedding/head, plus UE8M0 scales) and the model card's global KV of
// 890 bytes per token with its trained FP4 KV.
var v41Sizes = fixedSizes{
	weightBytes: 510.31e9, expert: 557.2e9, embed: 2.0e9, precision: "v4.1-native",
	kvBytesPerToken: 890, kvElem: 0.5,
}

func catalogue() []entry {
	v4Native := "v4-native"
	return []entry{
		{name: "deepseek-v4-pro", title: "DeepSeek-V4-Pro (1.6T MoE, 49B active)", repo: "deepseek-ai/DeepSeek-V4-Pro",
			cfg: deepseekV4(7168, 61, 128, 1536, 16, 384, 3072, v4ProCompressRatios(61)), total: 1.6e12, active: 49e9, native: v4Native,
			family: "v4", notes: []string{v4KVNote}},
		{name: "deepseek-v4-flash", title: "DeepSeek-V4-Flash (284B MoE, 13B active)", repo: "deepseek-ai/DeepSeek-V4-Flash",
			cfg: deepseekV4(4096, 43, 64, 1024, 8, 256, 2048, v4FlashCompressRatios(43)), total: 284e9, active: 13e9, native: v4Native,
			family: "v4", notes: []string{v4KVNote}},
		{name: "deepseek-v4.1-flash", title: "DeepSeek-V4.1-Flash (763B MoE incl. 197B Engram tables, 16B active in decode)", repo: "deepseek-ai/DeepSeek-V4.1-Flash",
			cfg: deepseekV41Flash(), total: 763.2e9, active: 16e9, native: v4Native, family: "v4.1", fixed: &v41Sizes,
			notes: []string{"weights are the published checkpoint size (510.31 GB); tensor and expert parallelism split them, " +
				"Engram tables may be offloaded to CPU (vLLM --engram-config '{\"cpu_offload\":true}')",
				"KV cache from the model card: 890 bytes per token with FP4 KV (Blackwell); other KV dtypes scale it by element size"}},
		{name: "deepseek-v3.2", title: "DeepSeek-V3.2 (671B MoE, 37B active, DSA indexer)", repo: "deepseek-ai/DeepSeek-V3.2",
			cfg: deepseekV32(), total: 671e9, active: 37e9, native: "fp8", family: "v3.2"},
		{name: "deepseek-v3", title: "DeepSeek-V3 (671B MoE, 37B active)", repo: "deepseek-ai/DeepSeek-V3-0324",
			cfg: deepseekV3(), total: 671e9, active: 37e9, native: "fp8", family: "v3"},
		{name: "deepseek-r1", title: "DeepSeek-R1 (671B MoE, 37B active)", repo: "deepseek-ai/DeepSeek-R1-0528",
			cfg: deepseekV3(), total: 671e9, active: 37e9, native: "fp8", family: "r1", reasoning: true},
		{name: "deepseek-v2", title: "DeepSeek-V2-Chat (236B MoE, 21B active)", repo: "deepseek-ai/DeepSeek-V2-Chat",
			cfg: deepseekCoderV2(), total: 236e9, active: 21e9, native: "bf16", family: "v2"},
		{name: "deepseek-v2-lite", title: "DeepSeek-V2-Lite-Chat (15.7B MoE, 2.4B active)", repo: "deepseek-ai/DeepSeek-V2-Lite-Chat",
			cfg: deepseekV2Lite(), total: 15.7e9, active: 2.4e9, native: "bf16", family: "v2"},
		{name: "deepseek-coder-v2", title: "DeepSeek-Coder-V2-Instruct (236B MoE, 21B active)", repo: "deepseek-ai/DeepSeek-Coder-V2-Instruct",
			cfg: deepseekCoderV2(), total: 236e9, active: 21e9, native: "bf16", family: "v2"},
		{name: "deepseek-coder-v2-lite", title: "DeepSeek-Coder-V2-Lite-Instruct (16B MoE, 2.4B active)", repo: "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct",
			cfg: deepseekV2Lite(), total: 15.7e9, active: 2.4e9, native: "bf16", family: "v2"},
		{name: "r1-distill-qwen-1.5b", title: "DeepSeek-R1-Distill-Qwen-1.5B", repo: "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
			cfg: qwen2(1536, 8960, 28, 12, 2, 151936), native: "bf16", family: "r1-distill", reasoning: true},
		{name: "r1-distill-qwen-7b", title: "DeepSeek-R1-Distill-Qwen-7B", repo: "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
			cfg: qwen2(3584, 18944, 28, 28, 4, 152064), native: "bf16", family: "r1-distill", reasoning: true},
		{name: "r1-distill-qwen-14b", title: "DeepSeek-R1-Distill-Qwen-14B", repo: "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B",
			cfg: qwen2(5120, 13824, 48, 40, 8, 152064), native: "bf16", family: "r1-distill", reasoning: true},
		{name: "r1-distill-qwen-32b", title: "DeepSeek-R1-Distill-Qwen-32B", repo: "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
			cfg: qwen2(5120, 27648, 64, 40, 8, 152064), native: "bf16", family: "r1-distill", reasoning: true},
		{name: "r1-distill-llama-8b", title: "DeepSeek-R1-Distill-Llama-8B (Llama 3.1 8B)", repo: "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
			cfg: llama(4096, 14336, 32, 32), native: "bf16", family: "r1-distill", reasoning: true},
		{name: "r1-distill-llama-70b", title: "DeepSeek-R1-Distill-Llama-70B (Llama 3.3 70B)", repo: "deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
			cfg: llama(8192, 28672, 80, 64), native: "bf16", family: "r1-distill", reasoning: true},
	}
}

func (e entry) model() Model {
	m := FromConfig(e.name, e.cfg)
	m.Title, m.HFRepo, m.NativePrecision, m.Reasoning, m.Family = e.title, e.repo, e.native, e.reasoning, e.family
	m.Source = "published config.json (" + e.repo + ")"
	if e.total > 0 {
		m.Params = e.total
	}
	if e.active > 0 {
		m.ActiveParams = e.active
	}
	if f := e.fixed; f != nil {
		m.FixedWeightBytes, m.FixedPrecision = f.weightBytes, f.precision
		m.FixedSource = "the published checkpoint's size (Hugging Face usedStorage)"
		m.ExpertParams, m.EmbedParams = f.expert, f.embed
		m.KVBytesPerToken, m.KVBytesPerTokenElem = f.kvBytesPerToken, f.kvElem
		m.Source += " and the published checkpoint size and model card"
	}
	m.Notes = e.notes
	if len(e.assumptions) > 0 {
		m.Estimate, m.Assumptions = true, e.assumptions
	}
	return m
}

// Catalogue returns the built-in models in display order.
func Catalogue() []Model {
	es := catalogue()
	ms := make([]Model, len(es))
	for i, e := range es {
		ms[i] = e.model()
	}
	return ms
}

// Lookup finds a catalogue model by name (case-insensitive), also
// accepting its Hugging Face repository or the repository's last segment.
func Lookup(name string) (Model, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, m := range Catalogue() {
		repo := strings.ToLower(m.HFRepo)
		if n == m.Name || n == repo || n == repo[strings.LastIndex(repo, "/")+1:] {
			return m, nil
		}
	}
	names := make([]string, 0, len(catalogue()))
	for _, e := range catalogue() {
		names = append(names, e.name)
	}
	slices.Sort(names)
	return Model{}, fmt.Errorf("unknown model %q (built-in: %s; or pass a path to config.json, a safetensors index or a .gguf file)",
		name, strings.Join(names, ", "))
}
