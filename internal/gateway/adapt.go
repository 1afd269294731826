package gateway

import (
	"bytes"

	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

var (
	includeUsage     = []byte(`{"include_usage":true}`)
	thinkingEnabled  = []byte(`{"type":"enabled"}`)
	thinkingDisabled = []byte(`{"type":"disabled"}`)
	templateThinking = []byte(`{"thinking":true}`)
	templateNoThink  = []byte(`{"thinking":false}`)
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
	if t.Model != c.Req.Model {
		set("model", quote(t.Model))
	}
	// Ask for usage on every stream, so accounting never depends on the
	// client; the usage-only chunk is dropped again for clients that did not
	// ask for it (see streamState.adapt).
	if c.Req.Stream && !c.Req.IncludeUsage {
		set("stream_options", includeUsage)
	}
	if c.Req.Endpoint == openai.EndpointChat {
		if r.Thinking != nil && !c.Req.HasThinking {
			setThinking(set, t.Upstream.Kind(), *r.Thinking)
		}
		if t.Upstream.Kind() == upstream.KindDeepSeek {
			if c.Req.HasDeveloper {
				body = openai.ReplaceValue(body, "role", `"developer"`, `"system"`)
			}
			if mct := openai.Field(body, "max_completion_tokens"); mct != nil && openai.Field(body, "max_tokens") == nil {
				set("max_tokens", mct)
			}
		}
		if t.Upstream.ReasoningField() == "reasoning" {
			body = openai.RenameKey(body, "reasoning_content", "reasoning")
		}
	}
	return body, err
}

func setThinking(set func(string, []byte), kind string, on bool) {
	if kind == upstream.KindDeepSeek {
		if on {
			set("thinking", thinkingEnabled)
		} else {
			set("thinking", thinkingDisabled)
		}
		return
	}
	// vLLM and SGLang switch DeepSeek V3.x thinking through the chat template.
	if on {
		set("chat_template_kwargs", templateThinking)
	} else {
		set("chat_template_kwargs", templateNoThink)
	}
}

// responseAdapter rewrites upstream answers (whole bodies or stream chunks)
// into what the client expects.
type responseAdapter struct {
	renameReasoning bool   // upstream says "reasoning"
	model           []byte // public model name, quoted; nil when the names agree
}

func newResponseAdapter(c *Call, t *upstream.Target) responseAdapter {
	a := responseAdapter{renameReasoning: t.Upstream.ReasoningField() == "reasoning"}
	if t.Model != c.Req.Model {
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

var insufficientResource = []byte(`"insufficient_system_resource"`)

// incomplete reports DeepSeek's finish_reason insufficient_system_resource:
// a partial answer dressed as a success.
func incomplete(b []byte) bool { return bytes.Contains(b, insufficientResource) && hasFinish(b) }

func hasFinish(b []byte) bool {
	return bytes.Contains(b, []byte(`"finish_reason":"insufficient_system_resource"`)) ||
		bytes.Contains(b, []byte(`"finish_reason": "insufficient_system_resource"`))
}
