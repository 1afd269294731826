package launch

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestBuildValidates(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]Options{
		"no model":   {Engine: VLLM, TP: 1, PP: 1},
		"zero tp":    {Engine: VLLM, Model: "m", PP: 1},
		"bad engine": {Engine: "tgi", Model: "m", TP: 1, PP: 1},
		"bad util":   {Engine: SGLang, Model: "m", TP: 1, PP: 1, GPUMemoryUtilization: 1.5},
	} {
		if _, err := Build(o); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestFlagsPerEngine(t *testing.T) {
	t.Parallel()
	o := Options{Model: "org/m", TP: 4, PP: 2, MaxModelLen: 4096, KVCacheDtype: "fp8", Family: FamilyR1Distill, ExpertParallel: true}
	o.Engine = VLLM
	v, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	va := v.K8sArgs()
	for _, want := range []string{"org/m", "--tensor-parallel-size=4", "--pipeline-parallel-size=2", "--max-model-len=4096",
		"--kv-cache-dtype=fp8", "--reasoning-parser=deepseek_r1", "--enable-expert-parallel"} {
		if !slices.Contains(va, want) {
			t.Errorf("vLLM args %v lack %s", va, want)
		}
	}
	if v.GPUs != 4 || len(v.Notes) == 0 {
		t.Errorf("PP=2 pod should need TP GPUs and carry a multi-node note: gpus=%d notes=%v", v.GPUs, v.Notes)
	}
	o.Engine = SGLang
	s, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	sa := s.K8sArgs()
	for _, want := range []string{"--model-path=org/m", "--tp-size=4", "--pp-size=2", "--context-length=4096",
		"--kv-cache-dtype=fp8_e5m2", "--reasoning-parser=deepseek-r1", "--ep-size=4"} {
		if !slices.Contains(sa, want) {
			t.Errorf("SGLang args %v lack %s", sa, want)
		}
	}
}

func TestShellQuoting(t *testing.T) {
	t.Parallel()
	c, err := Build(Options{Engine: VLLM, Model: "/models/it's here", TP: 1, PP: 1, ExtraArgs: []string{"--x=$(rm -rf /)"}})
	if err != nil {
		t.Fatal(err)
	}
	sh := c.Shell()
	if !strings.Contains(sh, `'/models/it'"'"'s here'`) || !strings.Contains(sh, `'--x=$(rm -rf /)'`) {
		t.Errorf("unsafe quoting:\n%s", sh)
	}
	if !strings.Contains(c.Kubernetes(), `"--x=$(rm -rf /)"`) {
		t.Errorf("k8s args not quoted:\n%s", c.Kubernetes())
	}
}

// Every DeepSeek family gets exactly the parser flags its engine documents
// (see familyFlags for the sources), in this order, after the layout flags.
func TestFamilyFlags(t *testing.T) {
	t.Parallel()
	vt := "/vllm-workspace/examples/"
	st := "/sgl-workspace/sglang/examples/chat_template/"
	tests := []struct {
		engine Kind
		family Family
		want   []string
	}{
		{VLLM, FamilyR1Distill, []string{"--reasoning-parser=deepseek_r1"}},
		{VLLM, FamilyR1, []string{"--tool-call-parser=deepseek_v3", "--enable-auto-tool-choice", "--chat-template=" + vt + "tool_chat_template_deepseekr1.jinja", "--reasoning-parser=deepseek_r1"}},
		{VLLM, FamilyV3, []string{"--tool-call-parser=deepseek_v3", "--enable-auto-tool-choice", "--chat-template=" + vt + "tool_chat_template_deepseekv3.jinja"}},
		{VLLM, FamilyV31, []string{"--tool-call-parser=deepseek_v31", "--enable-auto-tool-choice", "--chat-template=" + vt + "tool_chat_template_deepseekv31.jinja", "--reasoning-parser=deepseek_v3"}},
		{VLLM, FamilyV32, []string{"--tokenizer-mode=deepseek_v32", "--tool-call-parser=deepseek_v32", "--enable-auto-tool-choice", "--reasoning-parser=deepseek_v3"}},
		{VLLM, FamilyV4, []string{"--tokenizer-mode=deepseek_v4", "--tool-call-parser=deepseek_v4", "--enable-auto-tool-choice", "--reasoning-parser=deepseek_v4"}},
		{VLLM, FamilyV41, []string{"--tokenizer-mode=deepseek_v41", "--tool-call-parser=deepseek_v41", "--enable-auto-tool-choice", "--reasoning-parser=deepseek_v41"}},
		{VLLM, FamilyV2, nil},
		{VLLM, FamilyNone, nil},
		{SGLang, FamilyR1Distill, []string{"--reasoning-parser=deepseek-r1"}},
		{SGLang, FamilyR1, []string{"--tool-call-parser=deepseekv3", "--chat-template=" + st + "tool_chat_template_deepseekr1.jinja", "--reasoning-parser=deepseek-r1"}},
		{SGLang, FamilyV3, []string{"--tool-call-parser=deepseekv3", "--chat-template=" + st + "tool_chat_template_deepseekv3.jinja"}},
		{SGLang, FamilyV31, []string{"--tool-call-parser=deepseekv31", "--chat-template=" + st + "tool_chat_template_deepseekv31.jinja", "--reasoning-parser=deepseek-v3"}},
		{SGLang, FamilyV32, []string{"--tool-call-parser=deepseekv32", "--reasoning-parser=deepseek-v3"}},
		{SGLang, FamilyV4, []string{"--tool-call-parser=deepseekv4", "--reasoning-parser=deepseek-v4"}},
		{SGLang, FamilyV41, []string{"--tool-call-parser=deepseekv41", "--reasoning-parser=deepseek-v41"}},
		{SGLang, FamilyV2, nil},
		{SGLang, "", nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.engine)+"/"+string(tt.family), func(t *testing.T) {
			t.Parallel()
			base, err := Build(Options{Engine: tt.engine, Model: "org/m", TP: 1, PP: 1})
			if err != nil {
				t.Fatal(err)
			}
			c, err := Build(Options{Engine: tt.engine, Model: "org/m", TP: 1, PP: 1, Family: tt.family, ExtraArgs: []string{"--x"}})
			if err != nil {
				t.Fatal(err)
			}
			args := c.K8sArgs()
			if !slices.Equal(args[:len(base.Args)], base.K8sArgs()) {
				t.Fatalf("layout flags changed: %v", args)
			}
			got := args[len(base.Args) : len(args)-1]
			if !slices.Equal(got, tt.want) {
				t.Errorf("family flags = %q, want %q", got, tt.want)
			}
			if args[len(args)-1] != "--x" {
				t.Errorf("extra args must come last: %v", args)
			}
			if tt.engine == SGLang && slices.Contains(args, "--enable-auto-tool-choice") {
				t.Error("SGLang has no --enable-auto-tool-choice flag")
			}
		})
	}
	if _, err := Build(Options{Engine: VLLM, Model: "m", TP: 1, PP: 1, Family: "v9"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown family: err = %v", err)
	}
}

func TestDetectFamily(t *testing.T) {
	t.Parallel()
	for model, want := range map[string]Family{
		"deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": FamilyR1Distill,
		"/models/DeepSeek-R1-Distill-Llama-70B":   FamilyR1Distill,
		"deepseek-ai/DeepSeek-R1-0528":            FamilyR1,
		"deepseek-ai/DeepSeek-V3-0324":            FamilyV3,
		"deepseek-ai/DeepSeek-V3.1-Terminus":      FamilyV31,
		"deepseek-ai/DeepSeek-V3.2":               FamilyV32,
		"deepseek-ai/DeepSeek-V3.2-Exp":           FamilyV32,
		"deepseek-ai/DeepSeek-V4-Flash":           FamilyV4,
		"/models/DeepSeek-V4-Pro":                 FamilyV4,
		"deepseek-ai/DeepSeek-V4.1-Flash":         FamilyV41,
		"nvidia/DeepSeek-V4.1-Flash-NVFP4":        FamilyV41,
		"deepseek-ai/DeepSeek-V2-Lite-Chat":       FamilyV2,
		"deepseek-ai/DeepSeek-Coder-V2-Instruct":  FamilyV2,
		"Qwen/Qwen3-8B":                           FamilyNone,
	} {
		if got := DetectFamily(model); got != want {
			t.Errorf("DetectFamily(%q) = %q, want %q", model, got, want)
		}
	}
}

// Default images are pinned release tags: a pod restart must not change
// the engine under a running gateway.
func TestDefaultImagesPinned(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{Engine: VLLM}, {Engine: SGLang}, {Engine: SGLang, Family: FamilyV41}, {Engine: VLLM, Family: FamilyV41}} {
		o.Model, o.TP, o.PP = "m", 1, 1
		c, err := Build(o)
		if err != nil {
			t.Fatal(err)
		}
		repo, tag, ok := strings.Cut(c.Image, ":")
		if !ok || tag == "" || tag == "latest" || strings.Contains(tag, "nightly") || repo == "" {
			t.Errorf("%s/%s: image %q is not pinned to a tag", o.Engine, o.Family, c.Image)
		}
		if !strings.Contains(c.Kubernetes(), `image: "`+c.Image+`"`) {
			t.Errorf("k8s spec does not use %s", c.Image)
		}
	}
}
