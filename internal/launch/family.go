package launch

import (
	"fmt"
	"strings"
)

// Family is a DeepSeek model family. Families differ in chat template,
// tool-call markup and reasoning markers, so each needs its own parser
// flags in vLLM and SGLang.
type Family string

// DeepSeek families. FamilyNone adds no parser flags.
const (
	FamilyNone      Family = "none"
	FamilyR1Distill Family = "r1-distill" // DeepSeek-R1-Distill-Qwen/Llama: <think> reasoning, no tool-call training
	FamilyR1        Family = "r1"         // DeepSeek-R1 / R1-0528 (V3 architecture, R1 template)
	FamilyV3        Family = "v3"         // DeepSeek-V3 / V3-0324
	FamilyV31       Family = "v3.1"       // DeepSeek-V3.1 / V3.1-Terminus: hybrid thinking
	FamilyV32       Family = "v3.2"       // DeepSeek-V3.2 / V3.2-Exp: DSML tool calls
	FamilyV4        Family = "v4"         // DeepSeek-V4-Flash / V4-Pro
	FamilyV41       Family = "v4.1"       // DeepSeek-V4.1-Flash
	FamilyV2        Family = "v2"         // DeepSeek-V2 / Coder-V2: no parser documented by either engine
)

// Families lists the families in the order the CLI documents them.
func Families() []Family {
	return []Family{FamilyR1Distill, FamilyR1, FamilyV2, FamilyV3, FamilyV31, FamilyV32, FamilyV4, FamilyV41, FamilyNone}
}

// ParseFamily accepts a family name ("v3.2", "r1-distill", "none").
func ParseFamily(s string) (Family, error) {
	f := Family(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Families() {
		if f == k {
			return f, nil
		}
	}
	names := make([]string, 0, len(Families()))
	for _, k := range Families() {
		names = append(names, string(k))
	}
	return "", fmt.Errorf("%w: unknown model family %q (one of %s)", ErrInvalid, s, strings.Join(names, ", "))
}

// DetectFamily guesses the family from a Hugging Face repository or a
// directory name, e.g. deepseek-ai/DeepSeek-V3.2 or
// /models/DeepSeek-R1-Distill-Qwen-7B. Unknown names give FamilyNone.
func DetectFamily(model string) Family {
	n := strings.ToLower(model)
	if i := strings.LastIndex(n, "/"); i >= 0 {
		n = n[i+1:]
	}
	n = strings.NewReplacer("_", "-", ".", "-").Replace(n)
	switch {
	case strings.Contains(n, "r1-distill"):
		return FamilyR1Distill
	case strings.Contains(n, "deepseek-r1"):
		return FamilyR1
	case strings.Contains(n, "deepseek-v4-1"), strings.Contains(n, "deepseek-v41"):
		return FamilyV41
	case strings.Contains(n, "deepseek-v4"):
		return FamilyV4
	case strings.Contains(n, "deepseek-v3-2"), strings.Contains(n, "deepseek-v32"):
		return FamilyV32
	case strings.Contains(n, "deepseek-v3-1"), strings.Contains(n, "deepseek-v31"):
		return FamilyV31
	case strings.Contains(n, "deepseek-v3"):
		return FamilyV3
	case strings.Contains(n, "deepseek-v2"), strings.Contains(n, "deepseek-coder-v2"):
		return FamilyV2
	}
	return FamilyNone
}

// Chat templates that the engines' images ship: the vllm/vllm-openai
// image keeps vLLM's examples/ under /vllm-workspace, the lmsysorg/sglang
// image keeps the SGLang checkout under /sgl-workspace/sglang.
const (
	vllmTemplates   = "/vllm-workspace/examples/"
	sglangTemplates = "/sgl-workspace/sglang/examples/chat_template/"
)

// parserFlags are the flags a family needs on one engine, and what to
// tell the operator about them.
type parserFlags struct {
	args  []Arg
	notes []string
}

// familyFlags returns the tool-call, auto-tool-choice, reasoning-parser,
// tokenizer-mode and chat-template flags family f needs on engine k.
//
// Sources (checked December 2026):
//   - vLLM tool calling (docs/features/tool_calling.md): deepseek_v3 with
//     examples/tool_chat_template_deepseekv3.jinja (V3-0324) or
//     ..._deepseekr1.jinja (R1-0528); deepseek_v31 with
//     ..._deepseekv31.jinja; every tool parser needs
//     --enable-auto-tool-choice for tool_choice "auto".
//   - vLLM reasoning parsers: deepseek_r1 (R1 and distills), deepseek_v3
//     (V3.1/V3.2: thinks only when chat_template_kwargs.thinking is true).
//   - vLLM DeepSeek-V3.2 recipe: --tokenizer-mode deepseek_v32
//     --tool-call-parser deepseek_v32 --enable-auto-tool-choice
//     --reasoning-parser deepseek_v3.
//   - vLLM DeepSeek-V4 recipe: --tokenizer-mode deepseek_v4
//     --tool-call-parser deepseek_v4 --enable-auto-tool-choice
//     --reasoning-parser deepseek_v4.
//   - vLLM DeepSeek-V4.1-Flash recipe (min_vllm_version 0.30.0):
//     --tokenizer-mode deepseek_v41 --tool-call-parser deepseek_v41
//     --enable-auto-tool-choice --reasoning-parser deepseek_v41.
//   - SGLang tool parser table (docs/advanced_features/tool_parser):
//     deepseekv3 (V3-0324, with tool_chat_template_deepseekv3.jinja),
//     deepseekv31 (V3.1, with tool_chat_template_deepseekv31.jinja),
//     deepseekv32 (V3.2); SGLang has no --enable-auto-tool-choice: the
//     tool parser alone turns tool calls on.
//   - SGLang reasoning parser table (separate_reasoning): deepseek-r1 (R1,
//     R1-0528, distills), deepseek-v3 (V3.1, V3.2; the thinking request
//     parameter).
//   - SGLang DeepSeek-V4 cookbook: --tool-call-parser deepseekv4
//     --reasoning-parser deepseek-v4; V4.1 (NVIDIA's V4.1-Flash model card):
//     --tool-call-parser deepseekv41 --reasoning-parser deepseek-v41.
func familyFlags(k Kind, f Family) parserFlags {
	vllmTools := func(parser string) []Arg {
		return []Arg{{"--tool-call-parser", parser}, {Flag: "--enable-auto-tool-choice"}}
	}
	switch k {
	case VLLM:
		switch f {
		case FamilyR1Distill:
			return parserFlags{args: []Arg{{"--reasoning-parser", "deepseek_r1"}},
				notes: []string{"R1 distills are not trained for tool calls: no tool-call parser is set"}}
		case FamilyR1:
			return parserFlags{args: append(vllmTools("deepseek_v3"),
				Arg{"--chat-template", vllmTemplates + "tool_chat_template_deepseekr1.jinja"},
				Arg{"--reasoning-parser", "deepseek_r1"})}
		case FamilyV3:
			return parserFlags{args: append(vllmTools("deepseek_v3"),
				Arg{"--chat-template", vllmTemplates + "tool_chat_template_deepseekv3.jinja"})}
		case FamilyV31:
			return parserFlags{args: append(vllmTools("deepseek_v31"),
				Arg{"--chat-template", vllmTemplates + "tool_chat_template_deepseekv31.jinja"},
				Arg{"--reasoning-parser", "deepseek_v3"}),
				notes: []string{thinkingNote}}
		case FamilyV32:
			return parserFlags{args: append([]Arg{{"--tokenizer-mode", "deepseek_v32"}}, append(vllmTools("deepseek_v32"),
				Arg{"--reasoning-parser", "deepseek_v3"})...), notes: []string{thinkingNote}}
		case FamilyV4:
			return parserFlags{args: append([]Arg{{"--tokenizer-mode", "deepseek_v4"}}, append(vllmTools("deepseek_v4"),
				Arg{"--reasoning-parser", "deepseek_v4"})...), notes: []string{thinkingNote}}
		case FamilyV41:
			return parserFlags{args: append([]Arg{{"--tokenizer-mode", "deepseek_v41"}}, append(vllmTools("deepseek_v41"),
				Arg{"--reasoning-parser", "deepseek_v41"})...),
				notes: []string{thinkingNote, "DeepSeek-V4.1 needs vLLM 0.30.0 or newer (the recipe's min_vllm_version)"}}
		case FamilyV2:
			return parserFlags{notes: []string{"vLLM documents no tool-call parser for DeepSeek-V2: tool calls stay in the text"}}
		}
	case SGLang:
		switch f {
		case FamilyR1Distill:
			return parserFlags{args: []Arg{{"--reasoning-parser", "deepseek-r1"}},
				notes: []string{"R1 distills are not trained for tool calls: no tool-call parser is set"}}
		case FamilyR1:
			return parserFlags{args: []Arg{{"--tool-call-parser", "deepseekv3"},
				{"--chat-template", sglangTemplates + "tool_chat_template_deepseekr1.jinja"},
				{"--reasoning-parser", "deepseek-r1"}}}
		case FamilyV3:
			return parserFlags{args: []Arg{{"--tool-call-parser", "deepseekv3"},
				{"--chat-template", sglangTemplates + "tool_chat_template_deepseekv3.jinja"}}}
		case FamilyV31:
			return parserFlags{args: []Arg{{"--tool-call-parser", "deepseekv31"},
				{"--chat-template", sglangTemplates + "tool_chat_template_deepseekv31.jinja"},
				{"--reasoning-parser", "deepseek-v3"}}, notes: []string{thinkingNote}}
		case FamilyV32:
			return parserFlags{args: []Arg{{"--tool-call-parser", "deepseekv32"}, {"--reasoning-parser", "deepseek-v3"}},
				notes: []string{thinkingNote}}
		case FamilyV4:
			return parserFlags{args: []Arg{{"--tool-call-parser", "deepseekv4"}, {"--reasoning-parser", "deepseek-v4"}},
				notes: []string{thinkingNote}}
		case FamilyV41:
			return parserFlags{args: []Arg{{"--tool-call-parser", "deepseekv41"}, {"--reasoning-parser", "deepseek-v41"}},
				notes: []string{thinkingNote, "DeepSeek-V4.1 is not in SGLang v0.5.20 or older; the image defaults to the cookbook's preview build " + SGLangV41Image}}
		case FamilyV2:
			return parserFlags{notes: []string{"SGLang documents no tool-call parser for DeepSeek-V2: tool calls stay in the text"}}
		}
	}
	return parserFlags{}
}

// thinkingNote tells operators how hybrid models switch thinking on.
const thinkingNote = `hybrid thinking is switched per request with chat_template_kwargs {"thinking": true|false}; ` +
	"reasoning_content is filled only while thinking is on"
