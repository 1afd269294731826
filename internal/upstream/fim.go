package upstream

import (
	"slices"
	"strings"
)

// FIM (fill in the middle): a prompt and a suffix, the model writes what
// goes between. Engines ask for it in different ways, so each target has
// a FIMMode.
type FIMMode int

// The FIM modes.
const (
	// FIMNone: the target cannot fill in the middle; a FIM request to it is
	// refused with a 400 rather than answered as a plain continuation.
	FIMNone FIMMode = iota
	// FIMSuffix: the engine reads the completions API's suffix itself
	// (DeepSeek's /beta/completions, Ollama's /v1/completions, OpenAI).
	FIMSuffix
	// FIMInfill: llama.cpp's /infill (input_prefix, input_suffix), which
	// wraps them in the FIM tokens of the model's own vocabulary. Its
	// /v1/completions ignores suffix.
	FIMInfill
	// FIMTokens: the prompt is built with the model family's FIM tokens
	// (FIMTemplate) and sent to /v1/completions without suffix: vLLM and
	// SGLang have no FIM API of their own (vLLM refuses suffix).
	FIMTokens
)

func (m FIMMode) String() string {
	switch m {
	case FIMSuffix:
		return "suffix"
	case FIMInfill:
		return "infill"
	case FIMTokens:
		return "tokens"
	}
	return "none"
}

// FIMTemplate is how a model family marks a FIM prompt:
// Prefix + prompt + Suffix + suffix + Middle, the model then writes the
// middle (the prefix-suffix-middle order every family below documents).
type FIMTemplate struct {
	Family                 string
	Prefix, Suffix, Middle string
}

// Prompt builds the FIM prompt for prefix and suffix.
func (f FIMTemplate) Prompt(prefix, suffix string) string {
	return f.Prefix + prefix + f.Suffix + suffix + f.Middle
}

// FIMNoneFamily is the target setting that turns FIM off.
const FIMNoneFamily = "none"

// fimTemplates are the documented FIM formats by family: DeepSeek-Coder's
// README (<｜fim▁begin｜>, <｜fim▁hole｜>, <｜fim▁end｜>; its V2 and DeepSeek
// V3 tokenizers carry the same tokens), Qwen2.5-Coder's README (CodeGemma
// uses the same tokens), StarCoder's and Code Llama's papers.
var fimTemplates = []FIMTemplate{
	{Family: "deepseek-coder", Prefix: "<｜fim▁begin｜>", Suffix: "<｜fim▁hole｜>", Middle: "<｜fim▁end｜>"},
	{Family: "qwen-coder", Prefix: "<|fim_prefix|>", Suffix: "<|fim_suffix|>", Middle: "<|fim_middle|>"},
	{Family: "starcoder", Prefix: "<fim_prefix>", Suffix: "<fim_suffix>", Middle: "<fim_middle>"},
	{Family: "codellama", Prefix: "<PRE> ", Suffix: " <SUF>", Middle: " <MID>"},
}

// fimGuesses map model-name fragments (lower case) to families, for
// targets that do not name one. Only coder models whose names say so.
var fimGuesses = []struct{ fragment, family string }{
	{"deepseek-coder", "deepseek-coder"},
	{"qwen2.5-coder", "qwen-coder"},
	{"qwen3-coder", "qwen-coder"},
	{"codegemma", "qwen-coder"},
	{"starcoder", "starcoder"},
	{"codellama", "codellama"},
	{"code-llama", "codellama"},
}

// FIMFamilies lists the families a target's fim setting may name, and
// "none".
func FIMFamilies() []string {
	var out []string
	for _, f := range fimTemplates {
		out = append(out, f.Family)
	}
	return append(out, FIMNoneFamily)
}

// FIMTemplateOf returns the template of a family.
func FIMTemplateOf(family string) (FIMTemplate, bool) {
	i := slices.IndexFunc(fimTemplates, func(f FIMTemplate) bool { return f.Family == family })
	if i < 0 {
		return FIMTemplate{}, false
	}
	return fimTemplates[i], true
}

// GuessFIMFamily returns the family a model name belongs to, or "".
func GuessFIMFamily(model string) string {
	m := strings.ToLower(model)
	for _, g := range fimGuesses {
		if strings.Contains(m, g.fragment) {
			return g.family
		}
	}
	return ""
}

// FIM says how the target fills in the middle: by its upstream's kind and
// its FIM family (Target.FIM, else guessed from the model name).
//
//   - fim: none turns it off on any kind;
//   - deepseek, ollama: the engine's own suffix;
//   - llamacpp: /infill;
//   - vllm, sglang: the family's tokens, or none when the family is unknown;
//   - openai: the family's tokens when one is named, else suffix (the
//     OpenAI API's contract).
func (t *Target) FIM() (FIMMode, FIMTemplate) {
	if t.FIMFamily == FIMNoneFamily {
		return FIMNone, FIMTemplate{}
	}
	switch t.Upstream.Kind() {
	case KindDeepSeek, KindOllama:
		return FIMSuffix, FIMTemplate{}
	case KindLlamaCpp:
		return FIMInfill, FIMTemplate{}
	}
	family := t.FIMFamily
	if family == "" && t.Upstream.Kind() != KindOpenAI {
		family = GuessFIMFamily(t.Model)
	}
	if tpl, ok := FIMTemplateOf(family); ok {
		return FIMTokens, tpl
	}
	if t.Upstream.Kind() == KindOpenAI {
		return FIMSuffix, FIMTemplate{}
	}
	return FIMNone, FIMTemplate{}
}
