package gateway

import (
	"bytes"
	"fmt"

	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

var (
	includeUsage     = []byte(`{"include_usage":true}`)
	thinkingEnabled  = []byte(`{"type":"enabled"}`)
	thinkingDisabled = []byte(`{"type":"disabled"}`)
	templateThinking = []byte(`{"thinking":true}`)
	templateNoThink  = []byte(`{"thinking":false}`)
	templateEnable   = []byte(`{"enable_thinking":true}`)
	templateDisable  = []byte(`{"enable_thinking":false}`)
	effortNone       = []byte(`"none"`)
	effortMedium     = []byte(`"medium"`)
	jsonNull         = []byte(`null`)
)

// requestFor adapts the client's body to target t. It returns the client's
// slice itself when nothing needs to change.
func requestFor(c *Call, r *Route, t *upstream.Target) ([]byte, error) {
	body := c.Body
	var err error
	set := func(key string, v []byte) {
		if err == nil {
			body, err = openai.SetField(body, key, v)
		}
	}
	model, retired := upstreamModel(t)
	if model != c.Req.Model {
		set("model", quote(model))
	}
	// Ask for usage on every stream, so accounting never depends on the
	// client; the usage-only chunk is dropped again for clients that did not
	// ask for it (see streamState.adapt).
	if c.Req.Stream && !c.Req.IncludeUsage {
		set("stream_options", includeUsage)
	}
	deepseek := t.Upstream.Kind() == upstream.KindDeepSeek
	switch c.Req.Endpoint {
	case openai.EndpointChat, openai.EndpointCompletion:
		applyThinking(set, c.Req.Endpoint, t.Upstream.ThinkingSwitch(), thinkingFor(c, r, retired), r.ReasoningEffort)
	case openai.EndpointFIM:
		// DeepSeek serves FIM only in non-thinking mode, and thinks by
		// default: every FIM request is sent with thinking off.
		if deepseek {
			set("thinking", thinkingDisabled)
			if openai.Field(body, "reasoning_effort") != nil {
				set("reasoning_effort", jsonNull)
			}
		}
	}
	if c.Req.Endpoint == openai.EndpointChat {
		if deepseek {
			if c.Req.HasDeveloper {
				body = openai.ReplaceValue(body, "role", `"developer"`, `"system"`)
			}
			if mct := openai.Field(body, "max_completion_tokens"); mct != nil && openai.Field(body, "max_tokens") == nil {
				set("max_tokens", mct)
			}
		}
		// reasoning_content on earlier assistant turns (DeepSeek needs it
		// back on turns with tool calls) goes through as it is, renamed
		// only for engines that call it reasoning.
		if t.Upstream.ReasoningField() == "reasoning" {
			body = openai.RenameKey(body, "reasoning_content", "reasoning")
		}
	}
	if err == nil && c.Req.FIM() {
		mode, tpl := t.FIM()
		body, err = fimBody(body, mode, tpl)
	}
	return body, err
}

// upstreamModel is the model name sent to t: a retired DeepSeek name is
// replaced by its successor (logged once), so none ever reaches DeepSeek.
func upstreamModel(t *upstream.Target) (string, *upstream.RetiredModel) {
	if t.Upstream.Kind() != upstream.KindDeepSeek {
		return t.Model, nil
	}
	rm, ok := upstream.RetiredDeepSeekModel(t.Model)
	if !ok {
		return t.Model, nil
	}
	t.Upstream.NoteRetired(t.Model, rm)
	return rm.Successor, &rm
}

// Where a request's thinking mode came from.
const (
	fromEngine   = iota // nothing chose: the engine's own default applies
	fromDefault         // the model's thinking default, or a retired alias's mode
	fromThinking        // the client's DeepSeek-style thinking object
	fromEffort          // the client's reasoning_effort "none"
	fromTemplate        // the client's own chat_template_kwargs
)

// thinking is a request's resolved thinking mode.
type thinking struct {
	on     bool
	source int
	// effort is the client's reasoning_effort, raw JSON; nil when absent.
	effort []byte
	// native: the client sent chat_template_kwargs itself.
	native bool
}

func (th thinking) set() bool { return th.source != fromEngine }

// clientThinking reads what the client chose, if anything. Only bodies
// the parser saw a thinking-related field in are looked at, so most
// requests cost nothing here.
func clientThinking(c *Call) thinking {
	var th thinking
	if !c.Req.HasThinking {
		return th
	}
	th.effort = openai.Field(c.Body, "reasoning_effort")
	if isJSONNull(th.effort) {
		th.effort = nil
	}
	if typ := openai.Field(openai.Field(c.Body, "thinking"), "type"); typ != nil {
		switch string(typ) {
		case `"enabled"`, `"disabled"`:
			th.on, th.source = string(typ) == `"enabled"`, fromThinking
		}
	}
	if !th.set() && bytes.Equal(th.effort, effortNone) {
		th.on, th.source = false, fromEffort
	}
	if kw := openai.Field(c.Body, "chat_template_kwargs"); kw != nil && !isJSONNull(kw) {
		th.native = true
		v := openai.Field(kw, "thinking")
		if v == nil {
			v = openai.Field(kw, "enable_thinking")
		}
		if !th.set() && (string(v) == "true" || string(v) == "false") {
			th.on, th.source = string(v) == "true", fromTemplate
		}
	}
	return th
}

// thinkingFor resolves the mode: the client's choice, else the model's
// default, else the retired alias's mode (deepseek-chat off,
// deepseek-reasoner on); else the engine decides.
func thinkingFor(c *Call, r *Route, retired *upstream.RetiredModel) thinking {
	th := clientThinking(c)
	switch {
	case th.set():
	case r.Thinking != nil:
		th.on, th.source = *r.Thinking, fromDefault
	case retired != nil:
		th.on, th.source = retired.Thinking, fromDefault
	}
	return th
}

// applyThinking writes the resolved mode in the engine's terms unless the
// client already used the engine's own switch, and maps the reasoning
// effort (the client's, else the model's default while thinking) to the
// engine's words.
func applyThinking(set func(string, []byte), ep openai.Endpoint, sw string, th thinking, defEffort string) {
	var effort []byte // a default effort to add
	if th.effort == nil && defEffort != "" && (!th.set() || th.on) {
		effort = quote(defEffort)
	}
	switch sw {
	case upstream.ThinkingDeepSeek:
		if th.set() && th.source != fromThinking {
			set("thinking", boolJSON(th.on, thinkingEnabled, thinkingDisabled))
		}
		switch {
		case bytes.Equal(th.effort, effortNone):
			set("reasoning_effort", jsonNull) // "none" is no word of DeepSeek's Chat API
		case th.effort != nil:
			if w, changed := deepSeekEffort(th.effort); changed {
				set("reasoning_effort", quote(w))
			}
		case effort != nil:
			w, _ := deepSeekEffort(effort)
			set("reasoning_effort", quote(w))
		}
	case upstream.ThinkingTemplate, upstream.ThinkingTemplateEnable:
		if ep != openai.EndpointChat || !th.set() || th.native {
			return // a chat template exists only for chat; the client's kwargs win
		}
		if sw == upstream.ThinkingTemplate {
			set("chat_template_kwargs", boolJSON(th.on, templateThinking, templateNoThink))
		} else {
			set("chat_template_kwargs", boolJSON(th.on, templateEnable, templateDisable))
		}
	case upstream.ThinkingOllama:
		switch {
		case th.set() && !th.on: // off wins over an effort word, as on DeepSeek
			if !bytes.Equal(th.effort, effortNone) {
				set("reasoning_effort", effortNone)
			}
		case th.effort != nil: // Ollama's /v1 reads reasoning_effort itself
		case effort != nil:
			set("reasoning_effort", effort)
		case th.set():
			set("reasoning_effort", effortMedium)
		}
	}
}

// deepSeekEffort maps a reasoning_effort value to DeepSeek's words (low,
// high, max) as DeepSeek's thinking-mode guide does: minimal and low are
// low; medium, high and xhigh are high; max and ultra are max. Unknown
// words are sent as they are, for DeepSeek to judge. changed reports
// whether the word differs from raw.
func deepSeekEffort(raw []byte) (w string, changed bool) {
	if len(raw) < 2 || raw[0] != '"' || bytes.IndexByte(raw, '\\') >= 0 {
		return string(raw), false // not a plain JSON string: leave it to DeepSeek
	}
	w = string(raw[1 : len(raw)-1])
	switch w {
	case "minimal", "low":
		return "low", w != "low"
	case "medium", "high", "xhigh":
		return "high", w != "high"
	case "max", "ultra":
		return "max", w != "max"
	}
	return w, false
}

func boolJSON(b bool, yes, no []byte) []byte {
	if b {
		return yes
	}
	return no
}

func isJSONNull(b []byte) bool { return bytes.Equal(b, jsonNull) }

// thinkingEffective reports whether a call to route r is answered in
// thinking mode on the route's upstreams: the client's choice, else the
// model's default, else the engine's (DeepSeek's API thinks by default).
// With several targets it is true when any target would think.
func (r *Route) thinkingEffective(c *Call) bool {
	if c.Req.Endpoint == openai.EndpointEmbedding || c.Req.Endpoint == openai.EndpointFIM {
		return false
	}
	th := clientThinking(c)
	if th.set() {
		return th.on
	}
	if r.Thinking != nil {
		return *r.Thinking
	}
	for _, t := range r.Pool.Targets() {
		if rm, ok := upstream.RetiredDeepSeekModel(t.Model); ok && t.Upstream.Kind() == upstream.KindDeepSeek {
			if rm.Thinking {
				return true
			}
			continue
		}
		if t.Upstream.ThinksByDefault() {
			return true
		}
	}
	return false
}

// thinkingDefaults describes the route's thinking defaults for its cache
// keys: changing them changes the answers to the same body.
func (r *Route) thinkingDefaults() string {
	s := ""
	if r.Thinking != nil {
		s = fmt.Sprintf(";thinking=%t", *r.Thinking)
	}
	if r.ReasoningEffort != "" {
		s += ";effort=" + r.ReasoningEffort
	}
	return s
}

// responseAdapter rewrites upstream answers (whole bodies or stream chunks)
// into what the client expects.
type responseAdapter struct {
	renameReasoning bool   // upstream says "reasoning"
	model           []byte // public model name, quoted; nil when the names agree
}

func newResponseAdapter(c *Call, t *upstream.Target) responseAdapter {
	a := responseAdapter{renameReasoning: t.Upstream.ReasoningField() == "reasoning"}
	if m, _ := upstreamModel(t); m != c.Req.Model {
		a.model = quote(c.Req.Model)
	}
	return a
}

func (a responseAdapter) adapt(b []byte) []byte {
	if a.renameReasoning {
		b = openai.RenameKey(b, "reasoning", "reasoning_content")
	}
	if a.model != nil {
		if out, err := openai.SetField(b, "model", a.model); err == nil {
			b = out
		}
	}
	return b
}

// insufficientTail is the end of DeepSeek's finish_reason
// insufficient_system_resource as a JSON string: what incomplete looks for
// first, on every answer. Its first byte, rarer in a completion than the
// quote that starts the whole string, keeps the search to a few jumps
// (bytes.Index jumps from one first byte to the next, and falls back to
// comparing at every position once too many jumps fail: the quote, every
// other key's and value's, made it do that).
var insufficientTail = []byte(`_system_resource"`)

// incomplete reports DeepSeek's finish_reason insufficient_system_resource:
// a partial answer dressed as a success.
func incomplete(b []byte) bool { return bytes.Contains(b, insufficientTail) && hasFinish(b) }

func hasFinish(b []byte) bool {
	return bytes.Contains(b, []byte(`"finish_reason":"insufficient_system_resource"`)) ||
		bytes.Contains(b, []byte(`"finish_reason": "insufficient_system_resource"`))
}
