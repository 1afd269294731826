package anthropic

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// perMessage is the estimated token overhead of one message's framing.
const perMessage = 4

// CountTokens answers POST /v1/messages/count_tokens with
// {"input_tokens": N}. N is an estimate, not a tokenizer count: DeepSeek
// documents roughly 0.3 tokens per English character and 0.6 per Chinese
// character (api-docs.deepseek.com, "Token & Token Usage"), so N is
// 0.3 per ASCII byte plus 0.6 per other character over the system prompt,
// message content, tool inputs and results and tool definitions, plus
// four tokens per message. Expect it to be within about 20% of the
// upstream's count for prose and code; it exists so that clients which
// budget their context (Claude Code) get a figure of the right size.
func CountTokens(body []byte) ([]byte, error) {
	var r request
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, decodeError(err)
	}
	if len(r.Messages) == 0 {
		return nil, invalid("messages: at least one message is required")
	}
	var e estimator
	e.raw(r.System)
	for _, m := range r.Messages {
		e.n += perMessage * 10
		content := bytes.TrimSpace(m.Content)
		if len(content) > 0 && content[0] == '"' {
			e.raw(content)
			continue
		}
		var blocks []block
		if err := json.Unmarshal(content, &blocks); err != nil {
			return nil, invalid("content: must be a string or an array of content blocks")
		}
		for _, b := range blocks {
			e.text(b.Text)
			e.text(b.Thinking)
			e.text(b.Name)
			e.raw(b.Input)
			e.raw(b.Content)
		}
	}
	for _, t := range r.Tools {
		e.text(t.Name)
		e.text(t.Description)
		e.raw(t.InputSchema)
	}
	out := append([]byte(`{"input_tokens":`), strconv.AppendInt(nil, int64(e.tokens()), 10)...)
	return append(out, '}'), nil
}

// estimator sums tenths of tokens.
type estimator struct{ n int }

func (e *estimator) text(s string) {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			e.n += 3
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		e.n += 6
		i += size
	}
}

// raw counts a JSON value's bytes as text: close enough for schemas and
// tool arguments, whose punctuation costs tokens too.
func (e *estimator) raw(b []byte) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return
	}
	var s string
	if b[0] == '"' && json.Unmarshal(b, &s) == nil {
		e.text(s)
		return
	}
	e.text(string(b))
}

func (e *estimator) tokens() int { return (e.n + 9) / 10 }

// Estimate is the CountTokens estimate for a text, for callers that need
// the figure without a request body.
func Estimate(s string) int {
	var e estimator
	e.text(s)
	return e.tokens()
}
