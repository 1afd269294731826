package upstream

import "sync"

// Thinking switches: how an engine is told to think or not. DeepSeek's
// API reads a top-level object; self-hosted engines pass
// chat_template_kwargs to the model's chat template, whose variable name
// depends on the model family; Ollama's /v1 reads reasoning_effort.
const (
	// ThinkingDeepSeek sends {"thinking":{"type":"enabled"|"disabled"}}
	// (DeepSeek's API; thinking is on there when nothing is sent).
	ThinkingDeepSeek = "deepseek"
	// ThinkingTemplate sends chat_template_kwargs {"thinking":bool}: the
	// DeepSeek V3.1/V3.2/V4 templates on vLLM and SGLang (off when nothing
	// is sent).
	ThinkingTemplate = "template_thinking"
	// ThinkingTemplateEnable sends chat_template_kwargs
	// {"enable_thinking":bool}: llama.cpp's server, and Qwen3-style
	// templates on vLLM and SGLang (on when nothing is sent).
	ThinkingTemplateEnable = "template_enable_thinking"
	// ThinkingOllama sends reasoning_effort "none" to turn thinking off
	// and "medium" (Ollama's think: true) to turn it on: Ollama's /v1
	// ignores both chat_template_kwargs and its native think field.
	ThinkingOllama = "ollama"
	// ThinkingNone sends nothing: the engine's own default applies.
	ThinkingNone = "none"
)

// ThinkingSwitches lists the valid switches.
var ThinkingSwitches = []string{ThinkingDeepSeek, ThinkingTemplate, ThinkingTemplateEnable, ThinkingOllama, ThinkingNone}

// DefaultThinkingSwitch is the switch of an upstream kind that does not
// name one: what each engine itself reads.
//
//   - deepseek: DeepSeek's thinking object.
//   - llamacpp: chat_template_kwargs.enable_thinking. llama-server reads
//     that key itself (tools/server/server-common.cpp,
//     oaicompat_chat_params_parse) and renders every template with it:
//     templates without a switch of their own (the R1 distills) get their
//     <think> closed when it is false, and the DeepSeek V3.1 handler passes
//     it to the template as "thinking". A "thinking" key alone only reaches
//     templates that name it.
//   - ollama: reasoning_effort, all Ollama's /v1 reads.
//   - vllm, sglang and openai: chat_template_kwargs.thinking, the variable
//     of the DeepSeek V3.1/V3.2/V4 templates, which vLLM and SGLang pass to
//     the template without reading it; Qwen3-style templates read
//     enable_thinking instead (set thinking_switch: template_enable_thinking).
func DefaultThinkingSwitch(kind string) string {
	switch kind {
	case KindDeepSeek:
		return ThinkingDeepSeek
	case KindLlamaCpp:
		return ThinkingTemplateEnable
	case KindOllama:
		return ThinkingOllama
	}
	return ThinkingTemplate
}

// ThinkingSwitch is how this upstream is told to think or not.
func (u *Upstream) ThinkingSwitch() string { return u.opts.ThinkingSwitch }

// ThinksByDefault reports whether the engine thinks when a request says
// nothing about it. DeepSeek's API does (for every current model); the
// DeepSeek V3.1+ templates on vLLM and SGLang do not; llama.cpp and
// Qwen-style templates do, and so does Ollama for thinking models.
func (u *Upstream) ThinksByDefault() bool { return u.opts.ThinkingSwitch != ThinkingTemplate }

// RetiredModel is a DeepSeek API model name that DeepSeek no longer
// accepts (it answers 400), with the name and thinking mode that replace
// it.
type RetiredModel struct {
	Successor string
	Thinking  bool
}

// retiredDeepSeek are the names DeepSeek's API refuses since 2026-07-24
// 15:59 UTC: the V3-era aliases, which DeepSeek served with
// deepseek-v4-flash in non-thinking (chat) and thinking (reasoner) mode
// until then.
var retiredDeepSeek = map[string]RetiredModel{
	"deepseek-chat":     {Successor: "deepseek-v4-flash", Thinking: false},
	"deepseek-reasoner": {Successor: "deepseek-v4-flash", Thinking: true},
	"deepseek-coder":    {Successor: "deepseek-v4-flash", Thinking: false},
}

// CurrentDeepSeekModels are the names DeepSeek's API serves: deepseek-flash
// (the name its docs ask for, DeepSeek-V4.1-Flash), deepseek-v4-pro, and
// deepseek-v4-flash (still accepted, served by V4.1-Flash).
var CurrentDeepSeekModels = []string{"deepseek-flash", "deepseek-v4-flash", "deepseek-v4-pro"}

// RetiredDeepSeekModel reports whether name is a retired DeepSeek API
// model name, and what replaces it.
func RetiredDeepSeekModel(name string) (RetiredModel, bool) {
	r, ok := retiredDeepSeek[name]
	return r, ok
}

// retiredLogged remembers the (upstream, model) pairs already logged.
var retiredLogged sync.Map

// NoteRetired logs, once per upstream and model, that a retired model
// name was replaced before it reached the upstream.
func (u *Upstream) NoteRetired(model string, r RetiredModel) {
	type key struct {
		u     *Upstream
		model string
	}
	if _, seen := retiredLogged.LoadOrStore(key{u, model}, true); seen {
		return
	}
	mode := "disabled"
	if r.Thinking {
		mode = "enabled"
	}
	u.log.Warn("retired DeepSeek model name replaced; update the target's model in the config",
		"upstream", u.opts.Name, "model", model, "sent_as", r.Successor, "thinking", mode)
}
