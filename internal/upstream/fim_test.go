package upstream

import (
	"slices"
	"testing"
)

// Every family a target may name has a template (none turns FIM off), and
// coder model names are recognised.
func TestFIMFamilies(t *testing.T) {
	fams := FIMFamilies()
	if !slices.Equal(fams, []string{"deepseek-coder", "qwen-coder", "starcoder", "codellama", "none"}) {
		t.Errorf("families %v: keep internal/config's fimFamilies in step", fams)
	}
	for _, f := range fams[:len(fams)-1] {
		if tpl, ok := FIMTemplateOf(f); !ok || tpl.Prompt("a", "b") == "ab" {
			t.Errorf("family %s has no template", f)
		}
	}
	for model, want := range map[string]string{
		"deepseek-ai/DeepSeek-Coder-V2-Lite-Base": "deepseek-coder",
		"Qwen/Qwen2.5-Coder-1.5B":                 "qwen-coder",
		"bigcode/starcoder2-3b":                   "starcoder",
		"codellama/CodeLlama-7b-hf":               "codellama",
		"deepseek-ai/DeepSeek-R1-Distill-Qwen-7B": "",
	} {
		if got := GuessFIMFamily(model); got != want {
			t.Errorf("%s: %q, want %q", model, got, want)
		}
	}
}
