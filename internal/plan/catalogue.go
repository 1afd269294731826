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
// 2% of the published one (3% for the V4 estimates).

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

// v4CompressRatios builds the DeepSeek-V4-Flash layer pattern: layers 0 and
// 1 use the sliding window only, then ratio-4 (CSA, with indexer) and
// ratio-128 (HCA) layers alternate.
func v4CompressRatios(layers int) []int {
	r := make([]int, layers)
	for i := 2; i < layers; i++ {
		if i%2 == 0 {
			r[i] = 4
		} else {
			r[i] = 128
		}
	}
	return r
}

func deepseekV4(hidden, layers, heads, qLoRA, oGroups, experts, moeInter int) Config {
	return Config{
		ModelType: "deepseek_v4", HiddenSize: hidden, NumHiddenLayers: layers,
		NumAttentionHeads: heads, NumKeyValueHeads: 1, HeadDim: 512,
		VocabSize: 129280, MaxPositionEmbeddings: 1048576, TorchDtype: "bfloat16",
		QLoRARank: qLoRA, QKRopeHeadDim: 64, OLoRARank: 1024, OGroups: oGroups,
		NRoutedExperts: experts, NSharedExperts: 1, NumExpertsPerTok: 6,
		MoEIntermediateSize: moeInter, MoELayerFreq: 1,
		CompressRatios: v4CompressRatios(layers), SlidingWindow: 128,
		IndexHeadDim: 128, IndexNHeads: 64,
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
	reasoning         bool
	assumptions       []string
}

const v4Assumption = "DeepSeek-V4 sizing is an estimate: totals (V4-Pro 1.6T/49B active, V4-Flash 284B/13B active) are the model card's; " +
	"the KV cache assumes a 128-token sliding window on every layer plus compressed rows every 4 tokens (CSA, with a 128-dim indexer key) " +
	"or every 128 tokens (HCA) on alternating layers after the first two, as read from V4-Flash's compress_ratios; V4-Pro is assumed to follow the same pattern"

func catalogue() []entry {
	v4Native := "v4-native"
	return []entry{
		{name: "deepseek-v4-pro", title: "DeepSeek-V4-Pro (1.6T MoE, 49B active)", repo: "deepseek-ai/DeepSeek-V4-Pro",
			cfg: deepseekV4(7168, 61, 128, 1536, 16, 384, 3072), total: 1.6e12, active: 49e9, native: v4Native,
			assumptions: []string{v4Assumption, "V4-Pro layer count, hidden size and expert shapes are from a third-party copy of its config.json"}},
		{name: "deepseek-v4-flash", title: "DeepSeek-V4-Flash (284B MoE, 13B active)", repo: "deepseek-ai/DeepSeek-V4-Flash",
			cfg: deepseekV4(4096, 43, 64, 1024, 8, 256, 2048), total: 284e9, active: 13e9, native: v4Native,
			assumptions: []string{v4Assumption}},
		{name: "deepseek-v3", title: "DeepSeek-V3 (671B MoE, 37B active)", repo: "deepseek-ai/DeepSeek-V3-0324",
			cfg: deepseekV3(), total: 671e9, active: 37e9, native: "fp8"},
		{name: "deepseek-r1", title: "DeepSeek-R1 (671B MoE, 37B active)", repo: "deepseek-ai/DeepSeek-R1-0528",
			cfg: deepseekV3(), total: 671e9, active: 37e9, native: "fp8", reasoning: true},
		{name: "deepseek-v2-lite", title: "DeepSeek-V2-Lite-Chat (15.7B MoE, 2.4B active)", repo: "deepseek-ai/DeepSeek-V2-Lite-Chat",
			cfg: deepseekV2Lite(), total: 15.7e9, active: 2.4e9, native: "bf16"},
		{name: "deepseek-coder-v2", title: "DeepSeek-Coder-V2-Instruct (236B MoE, 21B active)", repo: "deepseek-ai/DeepSeek-Coder-V2-Instruct",
			cfg: deepseekCoderV2(), total: 236e9, active: 21e9, native: "bf16"},
		{name: "deepseek-coder-v2-lite", title: "DeepSeek-Coder-V2-Lite-Instruct (16B MoE, 2.4B active)", repo: "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct",
			cfg: deepseekV2Lite(), total: 15.7e9, active: 2.4e9, native: "bf16"},
		{name: "r1-distill-qwen-1.5b", title: "DeepSeek-R1-Distill-Qwen-1.5B", repo: "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
			cfg: qwen2(1536, 8960, 28, 12, 2, 151936), native: "bf16", reasoning: true},
		{name: "r1-distill-qwen-7b", title: "DeepSeek-R1-Distill-Qwen-7B", repo: "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
			cfg: qwen2(3584, 18944, 28, 28, 4, 152064), native: "bf16", reasoning: true},
		{name: "r1-distill-qwen-14b", title: "DeepSeek-R1-Distill-Qwen-14B", repo: "deepseek-ai/DeepSeek-R1-Distill-Qwen-14B",
			cfg: qwen2(5120, 13824, 48, 40, 8, 152064), native: "bf16", reasoning: true},
		{name: "r1-distill-qwen-32b", title: "DeepSeek-R1-Distill-Qwen-32B", repo: "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
			cfg: qwen2(5120, 27648, 64, 40, 8, 152064), native: "bf16", reasoning: true},
		{name: "r1-distill-llama-8b", title: "DeepSeek-R1-Distill-Llama-8B (Llama 3.1 8B)", repo: "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
			cfg: llama(4096, 14336, 32, 32), native: "bf16", reasoning: true},
		{name: "r1-distill-llama-70b", title: "DeepSeek-R1-Distill-Llama-70B (Llama 3.3 70B)", repo: "deepseek-ai/DeepSeek-R1-Distill-Llama-70B",
			cfg: llama(8192, 28672, 80, 64), native: "bf16", reasoning: true},
	}
}

func (e entry) model() Model {
	m := FromConfig(e.name, e.cfg)
	m.Title, m.HFRepo, m.NativePrecision, m.Reasoning = e.title, e.repo, e.native, e.reasoning
	m.Source = "published config.json (" + e.repo + ")"
	if e.total > 0 {
		m.Params = e.total
	}
	if e.active > 0 {
		m.ActiveParams = e.active
	}
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
