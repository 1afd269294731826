// Package launch turns a serving plan (model, tensor/pipeline parallel
// sizes, context length, precision) into the launch command of an
// inference engine — vLLM or SGLang — and the matching Kubernetes container
// spec, so the same numbers reach a shell on one machine and a Deployment
// in a cluster. Each DeepSeek family gets the tool-call, auto-tool-choice,
// reasoning-parser, tokenizer-mode and chat-template flags its engine
// documents (family.go), and images are pinned release tags.
//
// The package only builds text; it never runs an engine. It is a leaf:
// standard library only, no internal/config, internal/server or internal/cli.
package launch

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind names an inference engine.
type Kind string

// Supported engines.
const (
	VLLM   Kind = "vllm"
	SGLang Kind = "sglang"
)

// ErrInvalid reports options an engine cannot take.
var ErrInvalid = errors.New("invalid engine options")

// Options describe one engine instance.
type Options struct {
	Engine Kind
	// Model is what the engine loads: a Hugging Face repository or a path
	// inside the container (e.g. /models/DeepSeek-R1-Distill-Qwen-7B).
	Model string
	// ServedName is the model name clients send; empty means Model.
	ServedName string
	TP, PP     int
	// MaxModelLen caps tokens per sequence (0 = engine default).
	MaxModelLen int
	// MaxNumSeqs caps concurrent sequences (0 = engine default).
	MaxNumSeqs int
	// GPUMemoryUtilization is vLLM's --gpu-memory-utilization and SGLang's
	// --mem-fraction-static (0 = engine default).
	GPUMemoryUtilization float64
	Host                 string // default 0.0.0.0
	Port                 int    // default 8000 (vLLM) or 30000 (SGLang)
	// DType forces the activation dtype: "", "bfloat16", "float16".
	DType string
	// Quantization is the engine's --quantization value: "", "fp8", "awq", "gptq".
	Quantization string
	// KVCacheDtype is "" (auto) or "fp8".
	KVCacheDtype    string
	TrustRemoteCode bool
	// Family selects the tool-call, auto-tool-choice, reasoning-parser,
	// tokenizer-mode and chat-template flags of a DeepSeek family (see
	// family.go); "" or FamilyNone adds none.
	Family Family
	// ExpertParallel spreads MoE experts over the TP ranks.
	ExpertParallel bool
	// DPAttention shards MLA's latent KV cache across ranks (SGLang only).
	DPAttention bool
	// Image is the container image for the Kubernetes spec.
	Image string
	// ExtraArgs are appended verbatim.
	ExtraArgs []string
}

// Arg is one command-line flag; Value is empty for switches, and Flag is
// empty for a positional argument.
type Arg struct {
	Flag, Value string
}

// Command is a built engine invocation.
type Command struct {
	Engine  Kind
	Program []string // entry point, e.g. ["vllm", "serve"]
	Args    []Arg
	Image   string
	Port    int
	// GPUs is the nvidia.com/gpu count one pod needs (TP for PP=1).
	GPUs  int
	Notes []string
}

// Default container images, pinned to released tags (never "latest", so
// a restart cannot silently change the engine): vLLM v0.30.0 is the first
// release with DeepSeek-V4.1 (its recipe's min_vllm_version) and carries
// the V3.2 and V4 tokenizer modes and parsers; SGLang v0.5.20 carries the
// deepseekv4 and deepseek-v4 parsers. SGLang has no numbered release with
// DeepSeek-V4.1 yet; its cookbook serves it from the preview image.
const (
	DefaultVLLMImage   = "vllm/vllm-openai:v0.30.0"
	DefaultSGLangImage = "lmsysorg/sglang:v0.5.20"
	SGLangV41Image     = "lmsysorg/sglang:dev-dsv41"
)

// Build validates options and produces the command.
func Build(o Options) (Command, error) {
	if strings.TrimSpace(o.Model) == "" {
		return Command{}, fmt.Errorf("%w: model is required", ErrInvalid)
	}
	if o.TP < 1 || o.PP < 1 {
		return Command{}, fmt.Errorf("%w: tensor and pipeline parallel sizes must be at least 1 (got tp=%d pp=%d)", ErrInvalid, o.TP, o.PP)
	}
	if o.GPUMemoryUtilization < 0 || o.GPUMemoryUtilization > 1 {
		return Command{}, fmt.Errorf("%w: GPU memory utilization %v is outside (0, 1]", ErrInvalid, o.GPUMemoryUtilization)
	}
	if o.Host == "" {
		o.Host = "0.0.0.0"
	}
	if o.Family == "" {
		o.Family = FamilyNone
	}
	if _, err := ParseFamily(string(o.Family)); err != nil {
		return Command{}, err
	}
	switch o.Engine {
	case VLLM:
		return buildVLLM(o), nil
	case SGLang:
		return buildSGLang(o), nil
	}
	return Command{}, fmt.Errorf("%w: unknown engine %q (vllm or sglang)", ErrInvalid, o.Engine)
}

func itoa(n int) string { return strconv.Itoa(n) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func buildVLLM(o Options) Command {
	c := Command{Engine: VLLM, Program: []string{"vllm", "serve"}, Image: or(o.Image, DefaultVLLMImage), Port: orInt(o.Port, 8000), GPUs: o.TP * o.PP}
	a := []Arg{{Value: o.Model},
		{"--host", o.Host}, {"--port", itoa(c.Port)},
		{"--served-model-name", or(o.ServedName, o.Model)},
		{"--tensor-parallel-size", itoa(o.TP)},
		{"--pipeline-parallel-size", itoa(o.PP)},
	}
	a = appendIf(a, o.MaxModelLen > 0, Arg{"--max-model-len", itoa(o.MaxModelLen)})
	a = appendIf(a, o.MaxNumSeqs > 0, Arg{"--max-num-seqs", itoa(o.MaxNumSeqs)})
	a = appendIf(a, o.GPUMemoryUtilization > 0, Arg{"--gpu-memory-utilization", ftoa(o.GPUMemoryUtilization)})
	a = appendIf(a, o.DType != "", Arg{"--dtype", o.DType})
	a = appendIf(a, o.Quantization != "", Arg{"--quantization", o.Quantization})
	a = appendIf(a, o.KVCacheDtype != "", Arg{"--kv-cache-dtype", o.KVCacheDtype})
	a = appendIf(a, o.TrustRemoteCode, Arg{Flag: "--trust-remote-code"})
	a = appendIf(a, o.ExpertParallel, Arg{Flag: "--enable-expert-parallel"})
	pf := familyFlags(VLLM, o.Family)
	a = append(a, pf.args...)
	c.Notes = append(c.Notes, pf.notes...)
	c.Args = appendExtra(a, o.ExtraArgs)
	if o.PP > 1 {
		c.Notes = append(c.Notes, fmt.Sprintf("pipeline parallel %d: start a Ray cluster across the nodes first (ray start --head / --address); "+
			"vLLM places the %d ranks on it, %d GPUs per pipeline stage", o.PP, o.TP*o.PP, o.TP))
		c.GPUs = o.TP
	}
	if o.DPAttention {
		c.Notes = append(c.Notes, "DP attention is an SGLang option; ignored for vLLM (use --data-parallel-size there)")
	}
	return c
}

func buildSGLang(o Options) Command {
	image := DefaultSGLangImage
	if o.Family == FamilyV41 {
		image = SGLangV41Image
	}
	c := Command{Engine: SGLang, Program: []string{"python3", "-m", "sglang.launch_server"}, Image: or(o.Image, image), Port: orInt(o.Port, 30000), GPUs: o.TP * o.PP}
	a := []Arg{{"--model-path", o.Model},
		{"--host", o.Host}, {"--port", itoa(c.Port)},
		{"--served-model-name", or(o.ServedName, o.Model)},
		{"--tp-size", itoa(o.TP)},
		{"--pp-size", itoa(o.PP)},
	}
	a = appendIf(a, o.MaxModelLen > 0, Arg{"--context-length", itoa(o.MaxModelLen)})
	a = appendIf(a, o.MaxNumSeqs > 0, Arg{"--max-running-requests", itoa(o.MaxNumSeqs)})
	a = appendIf(a, o.GPUMemoryUtilization > 0, Arg{"--mem-fraction-static", ftoa(o.GPUMemoryUtilization)})
	a = appendIf(a, o.DType != "", Arg{"--dtype", o.DType})
	a = appendIf(a, o.Quantization != "", Arg{"--quantization", o.Quantization})
	// SGLang names the FP8 KV formats explicitly.
	kv := o.KVCacheDtype
	if kv == "fp8" {
		kv = "fp8_e5m2"
	}
	a = appendIf(a, kv != "", Arg{"--kv-cache-dtype", kv})
	a = appendIf(a, o.TrustRemoteCode, Arg{Flag: "--trust-remote-code"})
	a = appendIf(a, o.ExpertParallel, Arg{"--ep-size", itoa(o.TP)})
	a = appendIf(a, o.DPAttention, Arg{Flag: "--enable-dp-attention"}, Arg{"--dp-size", itoa(o.TP)})
	pf := familyFlags(SGLang, o.Family)
	a = append(a, pf.args...)
	c.Notes = append(c.Notes, pf.notes...)
	c.Args = appendExtra(a, o.ExtraArgs)
	if o.PP > 1 {
		c.Notes = append(c.Notes, fmt.Sprintf("pipeline parallel %d across nodes: run this command on every node with "+
			"--nnodes %d --node-rank <i> --dist-init-addr <node0>:50000; each pod needs %d GPUs", o.PP, o.PP, o.TP))
		c.GPUs = o.TP
	}
	return c
}

func appendIf(a []Arg, cond bool, more ...Arg) []Arg {
	if cond {
		return append(a, more...)
	}
	return a
}

func appendExtra(a []Arg, extra []string) []Arg {
	for _, e := range extra {
		a = append(a, Arg{Value: e})
	}
	return a
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func orInt(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}
