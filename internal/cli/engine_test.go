package cli

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The flag name is specific to these golden files so other tests in the
// package can define their own -update flags.
var updateEngineGolden = flag.Bool("update-engine", false, "rewrite internal/cli/testdata/engine/*.golden")

func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestEngineCommandGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"vllm-distill-qwen-7b-tp1", []string{"--engine", "vllm", "--model", "r1-distill-qwen-7b", "--tp", "1", "--pp", "1", "--context", "16384", "--sequences", "32"}},
		{"vllm-r1-h100-from-plan", []string{"--engine", "vllm", "--model", "deepseek-r1", "--gpu", "h100-80", "--context", "32768", "--sequences", "16", "--weights-dir", "/models"}},
		{"vllm-llama-70b-awq", []string{"--engine", "vllm", "--model", "r1-distill-llama-70b", "--precision", "awq", "--gpu", "l40s", "--served-model-name", "deepseek-r1-70b", "--kv-dtype", "fp8"}},
		{"sglang-r1-h200-dp-attention", []string{"--engine", "sglang", "--model", "deepseek-r1", "--gpu", "h200", "--context", "16384", "--dp-attention"}},
		{"sglang-custom-repo-shell", []string{"--engine", "sglang", "--model", "my-org/my-model-awq", "--tp", "2", "--pp", "1", "--format", "shell", "--extra-arg", "--chunked-prefill-size=4096"}},
		{"vllm-coder-v2-lite-k8s", []string{"--engine", "vllm", "--model", "deepseek-coder-v2-lite", "--tp", "2", "--pp", "2", "--format", "k8s"}},
		{"vllm-v4-flash-b200", []string{"--engine", "vllm", "--model", "deepseek-v4-flash", "--gpu", "b200", "--context", "65536"}},
		{"sglang-v3.2-h200", []string{"--engine", "sglang", "--model", "deepseek-v3.2", "--gpu", "h200", "--context", "32768"}},
		{"sglang-v4.1-flash-b300", []string{"--engine", "sglang", "--model", "deepseek-v4.1-flash", "--gpu", "b300", "--kv-dtype", "fp4", "--format", "shell"}},
		{"vllm-custom-v3.1-family-auto", []string{"--engine", "vllm", "--model", "/models/DeepSeek-V3.1-Terminus", "--tp", "8", "--pp", "1", "--format", "shell"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, errOut, code := runCLI(t, append([]string{"engine", "command"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden := filepath.Join("testdata", "engine", tt.name+".golden")
			if *updateEngineGolden {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/cli -run TestEngineCommandGolden -update-engine)", err)
			}
			if out != string(want) {
				t.Errorf("output differs from %s:\n--- got\n%s\n--- want\n%s", golden, out, want)
			}
			checkK8sFragment(t, out)
		})
	}
}

// checkK8sFragment decodes the container spec part of the output.
func checkK8sFragment(t *testing.T, out string) {
	t.Helper()
	i := strings.Index(out, "- name: engine")
	if i < 0 {
		return // shell-only output
	}
	frag := out[i:]
	if j := strings.Index(frag, "\n#"); j >= 0 {
		frag = frag[:j]
	}
	var containers []struct {
		Name      string   `yaml:"name"`
		Image     string   `yaml:"image"`
		Command   []string `yaml:"command"`
		Args      []string `yaml:"args"`
		Resources struct {
			Limits map[string]int `yaml:"limits"`
		} `yaml:"resources"`
	}
	if err := yaml.Unmarshal([]byte(frag), &containers); err != nil {
		t.Fatalf("container spec is not YAML: %v\n%s", err, frag)
	}
	c := containers[0]
	if c.Image == "" || len(c.Command) == 0 || len(c.Args) == 0 || c.Resources.Limits["nvidia.com/gpu"] < 1 {
		t.Errorf("incomplete container spec: %+v", c)
	}
}

func TestEngineCommandErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no model", []string{"--tp", "1", "--pp", "1"}, "required flag"},
		{"unknown model without layout", []string{"--model", "x/y"}, "pass --tp and --pp"},
		{"bad engine", []string{"--engine", "tgi", "--model", "x/y", "--tp", "1", "--pp", "1"}, "unknown engine"},
		{"gguf", []string{"--model", "r1-distill-qwen-7b", "--precision", "q4_k_m", "--tp", "1", "--pp", "1"}, "llama.cpp"},
		{"does not fit", []string{"--model", "deepseek-v4-pro", "--gpu", "rtx4090", "--max-gpus", "8"}, "does not fit"},
		{"bad format", []string{"--model", "x/y", "--tp", "1", "--pp", "1", "--format", "xml"}, "unknown --format"},
	}
	for _, tt := range tests {
		_, errOut, code := runCLI(t, append([]string{"engine", "command"}, tt.args...)...)
		if code == 0 || !strings.Contains(errOut, tt.want) {
			t.Errorf("%s: exit %d, stderr %q, want error containing %q", tt.name, code, errOut, tt.want)
		}
	}
}

func TestPlanCommand(t *testing.T) {
	t.Parallel()
	out, errOut, code := runCLI(t, "plan", "r1-distill-qwen-7b", "--gpu", "rtx4090", "--context", "4096", "--sequences", "1", "--precision", "fp16")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"weights  15.23", "rtx4090", "2 x layers x kv_heads x head_dim"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runCLI(t, "plan", "deepseek-v4-flash", "--format", "json", "--gpu", "h200")
	if code != 0 || !strings.Contains(out, `"estimate": false`) || !strings.Contains(out, `"tensor_parallel"`) {
		t.Errorf("json plan: exit %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "plan", filepath.Join("..", "plan", "testdata", "deepseek-v2-lite-chat", "config.json"), "--gpu", "l40s")
	if code != 0 || !strings.Contains(out, "MLA") {
		t.Errorf("plan from config.json: exit %d\n%s", code, out)
	}
	out, _, code = runCLI(t, "plan", "--list")
	if code != 0 || !strings.Contains(out, "deepseek-v4-pro") || strings.Contains(out, "(estimate)") ||
		!strings.Contains(out, "h200") || !strings.Contains(out, "ascend-910c") || !strings.Contains(out, "4.80 TB/s") {
		t.Errorf("plan --list: exit %d\n%s", code, out)
	}
	if _, errOut, code := runCLI(t, "plan", "no-such-model"); code == 0 || !strings.Contains(errOut, "unknown model") {
		t.Errorf("unknown model: exit %d %q", code, errOut)
	}
}

func TestDoctorCommand(t *testing.T) {
	t.Parallel()
	topo := filepath.Join("..", "doctor", "testdata")
	out, errOut, code := runCLI(t, "doctor", "--topo-file", filepath.Join(topo, "dgx-a100-8gpu.txt"), "--tp-gpus", "0,1,2,3")
	if code != 0 || !strings.Contains(out, "[ok]") || !strings.Contains(out, "every pair shares NVLink") {
		t.Errorf("dgx: exit %d %s\n%s", code, errOut, out)
	}
	out, _, code = runCLI(t, "doctor", "--topo-file", filepath.Join(topo, "4x-rtx4090-pcie.txt"), "--tp-gpus", "0,1", "--format", "json")
	if code != 0 || !strings.Contains(out, `"status": "warn"`) {
		t.Errorf("pcie json: exit %d\n%s", code, out)
	}
	_, _, code = runCLI(t, "doctor", "--topo-file", filepath.Join(topo, "1x-l40s.txt"), "--upstream", "dead=http://127.0.0.1:1", "--timeout", "500ms")
	if code != 1 {
		t.Errorf("unreachable upstream: exit %d, want 1", code)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer srv.Close()
	if _, _, code := runCLI(t, "doctor", "--skip-gpu", "--upstream", "self="+srv.URL+"/healthz"); code != 0 {
		t.Errorf("503 with --fail-on fail: exit %d, want 0", code)
	}
	if out, _, code := runCLI(t, "doctor", "--skip-gpu", "--fail-on", "warn", "--upstream", "self="+srv.URL+"/healthz"); code != 1 || !strings.Contains(out, "skipped") {
		t.Errorf("503 with --fail-on warn: exit %d, want 1\n%s", code, out)
	}
	for _, bad := range [][]string{{"--fail-on", "never"}, {"--upstream", "nourl"}, {"--tp-gpus", "0,x"}, {"--tp-gpus", "1,1"}} {
		if _, _, code := runCLI(t, append([]string{"doctor", "--topo-file", filepath.Join(topo, "1x-l40s.txt")}, bad...)...); code == 0 {
			t.Errorf("%v accepted", bad)
		}
	}
}
