package engine

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
	o := Options{Model: "org/m", TP: 4, PP: 2, MaxModelLen: 4096, KVCacheDtype: "fp8", Reasoning: true, ExpertParallel: true}
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
