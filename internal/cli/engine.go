package cli

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/launch"
	"github.com/dsgate/dsgate/internal/plan"
)

func newEngineCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "engine",
		Short: "Inference-engine helpers (vLLM, SGLang)",
	}
	cmd.AddCommand(newEngineCommandCmd())
	return cmd
}

// engineFlags are the inputs of `engine command`.
type engineFlags struct {
	pf             planFlags
	kind           string
	model          string
	tp, pp         int
	served         string
	weightsDir     string
	port           int
	image          string
	format         string
	trustRemote    bool
	dpAttention    bool
	expertParallel string
	family         string
	extra          []string
}

func newEngineCommandCmd() *cobra.Command {
	var f engineFlags
	cmd := &cobra.Command{
		Use:   "command",
		Short: "Print the engine launch command and the matching Kubernetes container",
		Long: `command prints how to start vLLM or SGLang for a model: the shell command for
one machine and the container spec (command, args, GPU limit) for
deploy/kubernetes/vllm-deployment.yaml or the Helm chart's engine values.

With --tp and --pp the layout is taken as given. Without them, --model must
be a built-in model and the layout comes from ` + "`dsgate plan`" + ` for the
first --gpu (default h100-80), --precision, --context and --sequences.

The tool-call parser, --enable-auto-tool-choice (vLLM), reasoning parser,
tokenizer mode and chat template follow the model's DeepSeek family
(--family, detected from the model name by default), and the image is a
pinned release tag, never latest.`,
		Example: `  dsgate engine command --engine vllm --model r1-distill-qwen-7b --tp 1 --pp 1
  dsgate engine command --engine vllm --model deepseek-v4-flash --gpu b200
  dsgate engine command --engine sglang --model deepseek-r1 --gpu h200 --context 32768
  dsgate engine command --engine vllm --model deepseek-r1 --gpu h100-80 --format k8s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, notes, err := f.build()
			if err != nil {
				return err
			}
			return writeEngine(cmd.OutOrStdout(), f.format, c, notes)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kind, "engine", "vllm", "engine: vllm or sglang")
	fl.StringVar(&f.model, "model", "", "built-in model name, Hugging Face repository or path inside the container (required)")
	fl.IntVar(&f.tp, "tp", 0, "tensor-parallel size (0 = from the plan)")
	fl.IntVar(&f.pp, "pp", 0, "pipeline-parallel size (0 = from the plan)")
	fl.StringVar(&f.served, "served-model-name", "", "model name clients send (default: the Hugging Face repository)")
	fl.StringVar(&f.weightsDir, "weights-dir", "", "load weights from DIR/<repository name> instead of downloading (e.g. /models)")
	fl.IntVar(&f.port, "port", 0, "listen port (default 8000 for vLLM, 30000 for SGLang)")
	fl.StringVar(&f.image, "image", "", "container image for the Kubernetes spec")
	fl.StringVar(&f.format, "format", "all", "output: all, shell or k8s")
	fl.BoolVar(&f.trustRemote, "trust-remote-code", false, "pass --trust-remote-code (set automatically for DeepSeek MoE models)")
	fl.BoolVar(&f.dpAttention, "dp-attention", false, "SGLang: shard the MLA KV cache with data-parallel attention")
	fl.StringVar(&f.expertParallel, "expert-parallel", "auto", "expert parallelism for MoE models: auto, on, off")
	fl.StringVar(&f.family, "family", "auto", "DeepSeek family for the tool-call and reasoning parser flags: auto (from the model), "+
		"r1-distill, r1, v2, v3, v3.1, v3.2, v4, v4.1 or none")
	fl.StringArrayVar(&f.extra, "extra-arg", nil, "extra engine argument, appended verbatim (repeatable)")
	f.pf.register(cmd)
	if err := cmd.MarkFlagRequired("model"); err != nil {
		panic(err) // programmer error: the flag is declared above
	}
	return cmd
}

// build resolves the model, the layout and the engine flags.
func (f *engineFlags) build() (launch.Command, []string, error) {
	m, known := plan.Model{}, false
	if cm, err := plan.Lookup(f.model); err == nil {
		m, known = cm, true
	}
	var notes []string
	tp, pp := f.tp, f.pp
	if tp == 0 || pp == 0 {
		if !known {
			return launch.Command{}, nil, fmt.Errorf("%q is not a built-in model: pass --tp and --pp", f.model)
		}
		l, err := f.planLayout(m)
		if err != nil {
			return launch.Command{}, nil, err
		}
		tp, pp = l.TP, l.PP
		notes = append(notes, fmt.Sprintf("layout from plan: %s TP%d x PP%d = %d GPUs, %.1f GB per GPU of %.0f GB",
			l.GPU, l.TP, l.PP, l.GPUs, l.PerGPUBytes/1e9, l.MemoryGB))
	}
	o := launch.Options{
		Engine: launch.Kind(f.kind), Model: f.model, ServedName: f.served, TP: tp, PP: pp,
		MaxModelLen: f.pf.context, MaxNumSeqs: f.pf.sequences, GPUMemoryUtilization: f.pf.gpuUtil,
		Port: f.port, Image: f.image, TrustRemoteCode: f.trustRemote, DPAttention: f.dpAttention,
		ExtraArgs: f.extra,
	}
	fam, err := f.resolveFamily(m, known)
	if err != nil {
		return launch.Command{}, nil, err
	}
	o.Family = fam
	if known {
		o.Model = m.HFRepo
		o.TrustRemoteCode = o.TrustRemoteCode || m.MoE()
		prec, n, err := precisionFlags(m, f.pf.precision)
		if err != nil {
			return launch.Command{}, nil, err
		}
		o.DType, o.Quantization = prec.dtype, prec.quant
		notes = append(notes, n...)
	}
	if o.ServedName == "" {
		o.ServedName = o.Model
	}
	if f.weightsDir != "" {
		o.Model = path.Join(f.weightsDir, path.Base(o.Model))
	}
	switch kv := strings.ToLower(f.pf.kvDtype); kv {
	case "", "auto":
	case "fp4", "nvfp4", "mxfp4":
		// Neither engine takes an FP4 --kv-cache-dtype; DeepSeek-V4.1's FP4
		// KV is chosen by the engine's own kernels on Blackwell.
		notes = append(notes, "KV cache fp4: no engine flag; DeepSeek-V4.1 stores its KV in FP4 on Blackwell by itself, other models cannot")
	default:
		o.KVCacheDtype = f.pf.kvDtype
	}
	switch f.expertParallel {
	case "on":
		o.ExpertParallel = true
	case "auto":
		o.ExpertParallel = known && m.MoE() && tp*pp > 1
	case "off":
	default:
		return launch.Command{}, nil, fmt.Errorf("--expert-parallel must be auto, on or off, not %q", f.expertParallel)
	}
	c, err := launch.Build(o)
	return c, notes, err
}

// resolveFamily picks the parser family: --family when given, else the
// catalogue model's, else a guess from the repository or path name.
func (f *engineFlags) resolveFamily(m plan.Model, known bool) (launch.Family, error) {
	switch {
	case f.family != "" && f.family != "auto":
		return launch.ParseFamily(f.family)
	case known && m.Family != "":
		return launch.ParseFamily(m.Family)
	}
	return launch.DetectFamily(f.model), nil
}

func (f *engineFlags) planLayout(m plan.Model) (plan.Layout, error) {
	pf := f.pf
	if len(pf.gpus) == 0 {
		pf.gpus = []string{"h100-80"}
	}
	pf.gpus = pf.gpus[:1]
	o, err := pf.options()
	if err != nil {
		return plan.Layout{}, err
	}
	r, err := plan.Estimate(m, o)
	if err != nil {
		return plan.Layout{}, err
	}
	l := r.Options[0]
	if !l.Fits {
		return plan.Layout{}, fmt.Errorf("%s does not fit on up to %d x %s at %s: lower --context/--sequences or pick another --gpu or --precision",
			m.Name, o.MaxGPUs, l.GPU, r.Precision)
	}
	return l, nil
}

type precisionChoice struct{ dtype, quant string }

// precisionFlags maps a plan precision onto engine flags.
func precisionFlags(m plan.Model, name string) (precisionChoice, []string, error) {
	if name == "" || name == "native" {
		return precisionChoice{}, nil, nil
	}
	p, err := plan.ParsePrecision(name)
	if err != nil {
		return precisionChoice{}, nil, err
	}
	switch {
	case p.Name == m.NativePrecision:
		return precisionChoice{}, nil, nil
	case p.Name == "bf16" || p.Name == "fp16" || p.Name == "fp32":
		dt := map[string]string{"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[p.Name]
		var notes []string
		if m.NativePrecision == "fp8" || m.NativePrecision == "v4-native" {
			notes = append(notes, "the published checkpoint is "+m.NativePrecision+"; point --model/--weights-dir at a "+p.Name+" conversion")
		}
		return precisionChoice{dtype: dt}, notes, nil
	case p.Engine == "fp8":
		return precisionChoice{quant: "fp8"}, []string{"fp8: weights are quantized on load (dynamic FP8); expect a small quality loss"}, nil
	case p.Engine == "awq" || p.Engine == "gptq":
		return precisionChoice{quant: p.Engine}, []string{p.Engine + ": --model must name an " + strings.ToUpper(p.Engine) + "-quantized checkpoint, not the original repository"}, nil
	case p.Engine == "int8":
		return precisionChoice{}, []string{"int8: use a W8A8 (compressed-tensors) checkpoint; the engine detects it from its config"}, nil
	case p.Engine == "gguf":
		return precisionChoice{}, nil, errors.New("GGUF quantizations are for llama.cpp/Ollama; vLLM and SGLang serve safetensors checkpoints")
	}
	return precisionChoice{}, []string{p.Name + ": the engine reads the quantization from the checkpoint's config"}, nil
}

func writeEngine(w io.Writer, format string, c launch.Command, notes []string) error {
	notes = append(notes, c.Notes...)
	var b strings.Builder
	switch format {
	case "shell":
		b.WriteString(c.Shell())
	case "k8s":
		b.WriteString(c.Kubernetes())
	case "all", "":
		fmt.Fprintf(&b, "# %s launch command\n%s\n", c.Engine, c.Shell())
		b.WriteString("# Kubernetes container (spec.template.spec.containers; needs volumes \"models\" and \"dshm\", see deploy/kubernetes/vllm-deployment.yaml)\n")
		b.WriteString(c.Kubernetes())
		for _, n := range notes {
			fmt.Fprintf(&b, "\n# note: %s", n)
		}
		if len(notes) > 0 {
			b.WriteString("\n")
		}
	default:
		return fmt.Errorf("unknown --format %q (all, shell or k8s)", format)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
