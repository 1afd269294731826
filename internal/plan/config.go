package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Config is the subset of a Hugging Face config.json that sizing needs.
// Field names and JSON keys follow transformers' configuration classes
// (LlamaConfig, Qwen2Config, DeepseekV2Config/DeepseekV3Config and the
// deepseek_v4 config); absent or null keys decode as zero.
type Config struct {
	ModelType             string `json:"model_type"`
	HiddenSize            int    `json:"hidden_size"`
	IntermediateSize      int    `json:"intermediate_size"`
	NumHiddenLayers       int    `json:"num_hidden_layers"`
	NumAttentionHeads     int    `json:"num_attention_heads"`
	NumKeyValueHeads      int    `json:"num_key_value_heads"`
	HeadDim               int    `json:"head_dim"`
	VocabSize             int    `json:"vocab_size"`
	TieWordEmbeddings     bool   `json:"tie_word_embeddings"`
	MaxPositionEmbeddings int    `json:"max_position_embeddings"`
	TorchDtype            string `json:"torch_dtype"`
	Dtype                 string `json:"dtype"`

	// Multi-head latent attention (DeepSeek-V2/V3).
	KVLoRARank    int `json:"kv_lora_rank"`
	QLoRARank     int `json:"q_lora_rank"`
	QKRopeHeadDim int `json:"qk_rope_head_dim"`
	QKNopeHeadDim int `json:"qk_nope_head_dim"`
	VHeadDim      int `json:"v_head_dim"`

	// DeepSeekMoE.
	NRoutedExperts      int `json:"n_routed_experts"`
	NSharedExperts      int `json:"n_shared_experts"`
	NumExpertsPerTok    int `json:"num_experts_per_tok"`
	MoEIntermediateSize int `json:"moe_intermediate_size"`
	FirstKDenseReplace  int `json:"first_k_dense_replace"`
	MoELayerFreq        int `json:"moe_layer_freq"`

	// DeepSeek-V4 hybrid compressed attention.
	CompressRatios []int `json:"compress_ratios"`
	SlidingWindow  int   `json:"sliding_window"`
	IndexHeadDim   int   `json:"index_head_dim"`
	IndexNHeads    int   `json:"index_n_heads"`
	OLoRARank      int   `json:"o_lora_rank"`
	OGroups        int   `json:"o_groups"`

	QuantizationConfig *QuantizationConfig `json:"quantization_config"`
}

// QuantizationConfig is the quantization_config block of a config.json.
type QuantizationConfig struct {
	QuantMethod string `json:"quant_method"`
	Bits        int    `json:"bits"`
	Fmt         string `json:"fmt"`
}

// ParseConfig decodes a config.json. Unknown keys are ignored: config.json
// files carry dozens of keys that do not affect memory.
func ParseConfig(r io.Reader) (Config, error) {
	var c Config
	if err := json.NewDecoder(r).Decode(&c); err != nil {
		return Config{}, fmt.Errorf("decoding config.json: %w", err)
	}
	if c.HiddenSize <= 0 || c.NumHiddenLayers <= 0 || c.NumAttentionHeads <= 0 {
		return Config{}, fmt.Errorf("config.json lacks hidden_size, num_hidden_layers or num_attention_heads")
	}
	return c, nil
}

// attention classifies the KV-cache layout of a config.
func (c Config) attention() Attention {
	switch {
	case c.ModelType == "deepseek_v4" || c.ModelType == "deepseek_v41" || len(c.CompressRatios) > 0:
		return AttentionCompressed
	case c.KVLoRARank > 0:
		return AttentionMLA
	default:
		return AttentionGQA
	}
}

func (c Config) kvHeads() int {
	if c.NumKeyValueHeads > 0 {
		return c.NumKeyValueHeads
	}
	return c.NumAttentionHeads
}

func (c Config) headDim() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	return c.HiddenSize / c.NumAttentionHeads
}

// nativePrecision names the precision the checkpoint is stored in.
func (c Config) nativePrecision() string {
	if q := c.QuantizationConfig; q != nil {
		switch m := strings.ToLower(q.QuantMethod); {
		case m == "fp8":
			return "fp8"
		case m == "gptq" || m == "awq":
			if q.Bits == 8 {
				return "int8"
			}
			return "int4-" + m
		}
	}
	d := c.TorchDtype
	if d == "" {
		d = c.Dtype
	}
	switch d {
	case "float32":
		return "fp32"
	case "float16":
		return "fp16"
	}
	return "bf16"
}

// paramCount is a parameter census of a config.
type paramCount struct {
	Total  float64 // every weight the engine loads (MTP layers excluded)
	Active float64 // weights touched per token (MoE: top-k + shared experts)
	Expert float64 // routed-expert weights (the part V4 stores in FP4)
	Embed  float64 // input embedding + output head (GPTQ/AWQ keep these 16-bit)
}

// countParams counts weights from the architecture. Matrices only, plus
// norms and biases where they exist; rotary tables and buffers hold no
// weights. The formulas follow the module shapes in transformers'
// modeling_llama.py, modeling_qwen2.py and modeling_deepseek_v3.py; the
// catalogue test checks them against published totals (within 2%).
// Multi-token-prediction layers (num_nextn_predict_layers) are left out:
// vLLM and SGLang load them only for speculative decoding.
func countParams(c Config) paramCount {
	h := float64(c.HiddenSize)
	l := float64(c.NumHiddenLayers)
	var p paramCount
	p.Embed = float64(c.VocabSize) * h
	if !c.TieWordEmbeddings {
		p.Embed *= 2
	}
	attn := attentionParams(c)
	norms := 2 * h
	if c.NRoutedExperts == 0 {
		mlp := 3 * h * float64(c.IntermediateSize) // gate, up, down (SwiGLU)
		p.Total = p.Embed + l*(attn+mlp+norms) + h
		p.Active = p.Total
		return p
	}
	expert := 3 * h * float64(c.MoEIntermediateSize)
	dense := 3 * h * float64(c.IntermediateSize)
	moeLayers := 0
	for i := range c.NumHiddenLayers {
		if isMoELayer(c, i) {
			moeLayers++
		}
	}
	denseLayers := float64(c.NumHiddenLayers - moeLayers)
	ml := float64(moeLayers)
	router := float64(c.NRoutedExperts) * h
	shared := float64(c.NSharedExperts) * expert
	p.Expert = ml * float64(c.NRoutedExperts) * expert
	base := p.Embed + l*(attn+norms) + h + denseLayers*dense + ml*(router+shared)
	p.Total = base + p.Expert
	p.Active = base + ml*float64(c.NumExpertsPerTok)*expert
	return p
}

func isMoELayer(c Config, i int) bool {
	if c.ModelType == "deepseek_v4" || c.ModelType == "deepseek_v41" {
		return true // every V4 block is MoE (hash-routed or score-routed)
	}
	freq := max(c.MoELayerFreq, 1)
	return i >= c.FirstKDenseReplace && i%freq == 0
}

// attentionParams counts one layer's attention weights.
func attentionParams(c Config) float64 {
	h := float64(c.HiddenSize)
	nh := float64(c.NumAttentionHeads)
	switch c.attention() {
	case AttentionMLA:
		// DeepSeek-V2 paper, section 2.1.2: W_DQ/W_UQ (or plain W_Q), W_DKV
		// with the decoupled RoPE key, W_UK/W_UV, W_O.
		qk := float64(c.QKNopeHeadDim + c.QKRopeHeadDim)
		q := h * nh * qk
		if c.QLoRARank > 0 {
			r := float64(c.QLoRARank)
			q = h*r + r + r*nh*qk
		}
		kvA := h * float64(c.KVLoRARank+c.QKRopeHeadDim)
		kvB := float64(c.KVLoRARank) * nh * float64(c.QKNopeHeadDim+c.VHeadDim)
		o := nh * float64(c.VHeadDim) * h
		return q + kvA + float64(c.KVLoRARank) + kvB + o
	case AttentionCompressed:
		// DeepSeek-V4 (official inference/model.py as described by NeMo
		// AutoModel): Q LoRA, one shared KV head (K = V), grouped low-rank
		// output projection, and a lightning indexer on the sparse layers.
		// Compressor and hyper-connection weights (a few million per
		// layer) are left out, so this undercounts slightly.
		hd := float64(c.headDim())
		r := float64(c.QLoRARank)
		q := h*r + r*nh*hd
		kv := h * hd
		o := nh*hd*float64(c.OLoRARank) + float64(c.OGroups)*float64(c.OLoRARank)*h
		idx := r*float64(c.IndexNHeads)*float64(c.IndexHeadDim) + h*float64(c.IndexHeadDim)
		return q + kv + o + idx/2 // the indexer sits on about half the layers
	default:
		// Llama/Qwen: q, k, v, o projections; Qwen2 adds q/k/v biases.
		hd := float64(c.headDim())
		kvh := float64(c.kvHeads())
		w := h*nh*hd + 2*h*kvh*hd + nh*hd*h
		if c.ModelType == "qwen2" {
			w += nh*hd + 2*kvh*hd
		}
		return w
	}
}
