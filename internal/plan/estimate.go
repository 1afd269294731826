package plan

import (
	"errors"
	"fmt"
	"math"
)

// Runtime overhead rule, per GPU, on top of weights and KV cache:
//
//	overhead = 2 GB + 5% x (weights + KV cache on that GPU)
//
// The fixed 2 GB covers the CUDA context and cuBLAS/NCCL workspaces
// (about 0.5-1 GB per process), captured CUDA graphs (about 0.5 GB in vLLM
// at its default capture sizes) and the activation peak of a prefill chunk
// (vLLM's default max_num_batched_tokens). The 5% covers allocator
// fragmentation and PagedAttention's last-block waste (the vLLM paper
// reports under 4%). A layout fits when weights + KV + overhead stay below
// GPUUtil (default 0.90, vLLM's --gpu-memory-utilization default) of the
// card. These are rules of thumb; vLLM's start-up log prints the measured
// figures.
const (
	OverheadFixedPerGPU = 2e9
	OverheadFraction    = 0.05
	DefaultGPUUtil      = 0.90
	DefaultMaxGPUs      = 64
)

// Options are the inputs of Estimate.
type Options struct {
	// Precision names the weight format; "" or "native" uses the
	// checkpoint's own.
	Precision string
	// KVDtype is the KV-cache element type: "auto" (the activation dtype),
	// "bf16", "fp16", "fp8", "fp32".
	KVDtype string
	// ContextLength is the tokens per sequence (prompt + output).
	ContextLength int
	// Sequences is the number of sequences resident at once.
	Sequences int
	// GPUs limits the candidate accelerators; empty means all built-in ones.
	GPUs []GPU
	// GPUUtil is the fraction of each GPU the engine may use (0 = 0.90).
	GPUUtil float64
	// MaxGPUs bounds the layouts tried (0 = 64).
	MaxGPUs int
}

// Result is a sizing.
type Result struct {
	Model         string   `json:"model"`
	Title         string   `json:"title"`
	HFRepo        string   `json:"hf_repo,omitempty"`
	Attention     string   `json:"attention"`
	Params        float64  `json:"params"`
	ActiveParams  float64  `json:"active_params"`
	Precision     string   `json:"precision"`
	BitsPerWeight float64  `json:"bits_per_weight"`
	KVDtype       string   `json:"kv_dtype"`
	ContextLength int      `json:"context_length"`
	Sequences     int      `json:"sequences"`
	WeightBytes   float64  `json:"weight_bytes"`
	KVBytesPerSeq float64  `json:"kv_bytes_per_sequence"`
	KVBytes       float64  `json:"kv_bytes"`
	OverheadBytes float64  `json:"overhead_bytes_single_gpu"`
	TotalBytes    float64  `json:"total_bytes_single_gpu"`
	GPUUtil       float64  `json:"gpu_util"`
	Options       []Layout `json:"gpu_options"`
	Estimate      bool     `json:"estimate"`
	Assumptions   []string `json:"assumptions,omitempty"`
	Notes         []string `json:"notes,omitempty"`
	PrecisionNote string   `json:"precision_source"`
	ModelSource   string   `json:"model_source"`
	MaxContext    int      `json:"max_context,omitempty"`
	// KVPublished: the KV size per token is a published figure
	// (Model.KVBytesPerToken), not the per-layer formula.
	KVPublished    bool   `json:"kv_published,omitempty"`
	ContextWarning string `json:"context_warning,omitempty"`
}

// Layout is one way to place the model on a GPU type.
type Layout struct {
	GPU          string   `json:"gpu"`
	GPUTitle     string   `json:"gpu_title"`
	MemoryGB     float64  `json:"memory_gb"`
	TP           int      `json:"tensor_parallel"`
	PP           int      `json:"pipeline_parallel"`
	GPUs         int      `json:"gpus"`
	Nodes        int      `json:"nodes"`
	PerGPUBytes  float64  `json:"per_gpu_bytes"`
	UsableBytes  float64  `json:"usable_per_gpu_bytes"`
	Fits         bool     `json:"fits"`
	MaxSequences int      `json:"max_sequences"`
	Notes        []string `json:"notes,omitempty"`
}

// ErrBadOptions reports invalid Estimate inputs.
var ErrBadOptions = errors.New("invalid sizing options")

// Estimate sizes a model.
func Estimate(m Model, o Options) (Result, error) {
	if o.ContextLength <= 0 || o.Sequences <= 0 {
		return Result{}, fmt.Errorf("%w: context length and sequences must be positive", ErrBadOptions)
	}
	prec, err := resolvePrecision(m, o.Precision)
	if err != nil {
		return Result{}, err
	}
	elem, kvName, err := kvElemBytes(o.KVDtype, prec)
	if err != nil {
		return Result{}, err
	}
	util := o.GPUUtil
	if util <= 0 || util > 1 {
		util = DefaultGPUUtil
	}
	w := prec.WeightBytes(m)
	bits := prec.Bits
	if m.FixedWeightBytes > 0 && (o.Precision == "" || o.Precision == "native") {
		w = m.FixedWeightBytes
		prec.Name, prec.Source = m.FixedPrecision, m.FixedSource
		if prec.Source == "" {
			prec.Source = "exact tensor sizes read from the file"
		}
		bits = w * 8 / m.Params
	}
	kvSeq := m.KVBytesPerSequence(o.ContextLength, elem)
	kv := kvSeq * float64(o.Sequences)
	r := Result{
		Model: m.Name, Title: m.Title, HFRepo: m.HFRepo, Attention: m.Attention().String(),
		Params: m.Params, ActiveParams: m.ActiveParams,
		Precision: prec.Name, BitsPerWeight: round(bits, 3), KVDtype: kvName,
		ContextLength: o.ContextLength, Sequences: o.Sequences,
		WeightBytes: w, KVBytesPerSeq: kvSeq, KVBytes: kv,
		OverheadBytes: OverheadFixedPerGPU + OverheadFraction*(w+kv),
		GPUUtil:       util,
		Estimate:      m.Estimate, Assumptions: m.Assumptions,
		PrecisionNote: prec.Source, ModelSource: m.Source,
		MaxContext:  m.Config.MaxPositionEmbeddings,
		KVPublished: m.KVBytesPerToken > 0,
	}
	r.TotalBytes = w + kv + r.OverheadBytes
	if r.MaxContext > 0 && o.ContextLength > r.MaxContext {
		r.ContextWarning = fmt.Sprintf("context %d exceeds the model's max_position_embeddings %d", o.ContextLength, r.MaxContext)
	}
	r.Notes = append(r.Notes, m.Notes...)
	if m.Attention() != AttentionGQA {
		r.Notes = append(r.Notes, "the "+m.Attention().String()+" KV cache is one latent per token shared by all heads, so tensor parallelism "+
			"replicates it on every rank (vLLM, SGLang without DP attention); pipeline parallelism splits it by layer. "+
			"SGLang --enable-dp-attention shards it across data-parallel attention ranks instead")
	}
	if m.MoE() {
		r.Notes = append(r.Notes, "MoE on several GPUs: add expert parallelism (vLLM --enable-expert-parallel, SGLang --ep-size); "+
			"memory per GPU is the same, all-to-all traffic replaces all-reduce for the experts")
	}
	if prec.Engine == "gguf" {
		r.Notes = append(r.Notes, "GGUF quantizations are served by llama.cpp/Ollama; vLLM's GGUF loader is experimental and single-file only")
	}
	gpus := o.GPUs
	if len(gpus) == 0 {
		gpus = GPUs()
	}
	maxGPUs := o.MaxGPUs
	if maxGPUs <= 0 {
		maxGPUs = DefaultMaxGPUs
	}
	for _, g := range gpus {
		r.Options = append(r.Options, bestLayout(m, g, prec, w, kvSeq, o.Sequences, util, maxGPUs))
	}
	return r, nil
}

func resolvePrecision(m Model, name string) (Precision, error) {
	if name == "" || name == "native" {
		name = m.NativePrecision
		if name == "" {
			name = "bf16"
		}
	}
	return ParsePrecision(name)
}

// candidateLayouts lists (tp, pp) pairs in order of GPU count: TP within a
// node first (1, 2, 4, 8), then full-node TP with PP across nodes.
func candidateLayouts(m Model, g GPU, maxGPUs int) [][2]int {
	var out [][2]int
	per := max(g.PerNode, 1)
	for tp := 1; tp <= per && tp <= maxGPUs; tp *= 2 {
		if validTP(m, tp) {
			out = append(out, [2]int{tp, 1})
		}
	}
	tp := per
	for !validTP(m, tp) && tp > 1 {
		tp /= 2
	}
	for pp := 2; tp*pp <= maxGPUs && pp <= m.Config.NumHiddenLayers; pp++ {
		out = append(out, [2]int{tp, pp})
	}
	return out
}

// validTP applies vLLM's rule: attention heads must divide evenly across
// ranks, and GQA KV heads must either divide or be replicated evenly.
func validTP(m Model, tp int) bool {
	c := m.Config
	if c.NumAttentionHeads%tp != 0 {
		return false
	}
	if m.Attention() == AttentionGQA {
		kvh := c.kvHeads()
		return kvh%tp == 0 || tp%kvh == 0
	}
	return true
}

func bestLayout(m Model, g GPU, prec Precision, w, kvSeq float64, seqs int, util float64, maxGPUs int) Layout {
	var last Layout
	for _, c := range candidateLayouts(m, g, maxGPUs) {
		l := layout(m, g, c[0], c[1], w, kvSeq, seqs, util)
		last = l
		if l.Fits {
			addLayoutNotes(&l, g, prec)
			return l
		}
	}
	last.Notes = append(last.Notes, fmt.Sprintf("does not fit on up to %d GPUs", maxGPUs))
	return last
}

// layout computes per-GPU memory for one (tp, pp):
//
//	weights/GPU = weights / (tp x pp)
//	KV/GPU      = KV / (pp x min(tp, kv_heads))   for GQA
//	KV/GPU      = KV / pp                         for MLA and V4 (replicated across TP)
//	need/GPU    = weights/GPU + KV/GPU + 2 GB + 5% x (weights/GPU + KV/GPU)
func layout(m Model, g GPU, tp, pp int, w, kvSeq float64, seqs int, util float64) Layout {
	n := tp * pp
	shards := 1
	if m.Attention() == AttentionGQA {
		shards = min(tp, m.Config.kvHeads())
	}
	wG := w / float64(n)
	kvSeqG := kvSeq / float64(pp*shards)
	kvG := kvSeqG * float64(seqs)
	need := wG + kvG + OverheadFixedPerGPU + OverheadFraction*(wG+kvG)
	usable := util * g.MemoryGB * 1e9
	free := usable - OverheadFixedPerGPU - (1+OverheadFraction)*wG
	maxSeqs := 0
	if free > 0 && kvSeqG > 0 {
		maxSeqs = int(math.Floor(free / ((1 + OverheadFraction) * kvSeqG)))
	}
	per := max(g.PerNode, 1)
	return Layout{
		GPU: g.Name, GPUTitle: g.Title, MemoryGB: g.MemoryGB,
		TP: tp, PP: pp, GPUs: n, Nodes: (n + per - 1) / per,
		PerGPUBytes: need, UsableBytes: usable, Fits: need <= usable, MaxSequences: maxSeqs,
	}
}

func addLayoutNotes(l *Layout, g GPU, prec Precision) {
	if l.TP > 2 && !g.NVLink {
		l.Notes = append(l.Notes, "no NVLink: TP over PCIe is all-reduce bound; consider PP or larger GPUs")
	}
	if l.Nodes > 1 {
		l.Notes = append(l.Notes, fmt.Sprintf("%d nodes: PP across nodes (vLLM with Ray, SGLang --nnodes); use InfiniBand/RoCE", l.Nodes))
	}
	switch {
	case (prec.Engine == "fp8" || prec.Name == "v4-native") && g.Arch == "ampere":
		l.Notes = append(l.Notes, "no FP8 tensor cores on Ampere: vLLM runs FP8 weight-only (Marlin), slower than on Ada/Hopper")
	case (prec.Engine == "mxfp4" || prec.Name == "v4-native") && g.Arch != "blackwell":
		l.Notes = append(l.Notes, "MXFP4 is native on Blackwell only; elsewhere it is dequantized in kernels")
	}
	switch g.Arch {
	case "cdna3":
		l.Notes = append(l.Notes, "AMD: use the engines' ROCm images (vLLM ROCm build, lmsysorg/sglang *-rocm* tags)")
	case "ascend":
		l.Notes = append(l.Notes, "Ascend: serve with vllm-ascend or SGLang's Ascend backend (no CUDA images); FP8 checkpoints need a W8A8 conversion")
	}
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
