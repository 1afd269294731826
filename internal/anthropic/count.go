package anthropic

import (
	"strconv"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/chatwire"
)

// perMessage is the estimated token overhead of one message's framing.
const perMessage = 4

// CountTokens answers POST /v1/messages/count_tokens with
// {"input_tokens": N}. N is an estimate, not a tokenizer count: DeepSeek
// documents roughly 0.3 tokens per English character and 0.6 per Chinese
// character (api-docs.deepseek.com, "Token & Token Usage"), so N is
// 0.3 per ASCII byte plus 0.6 per other character over the system prompt,
// message content, tool inputs and results and tool definitions, plus
// four tokens per message. It is not exact (DeepSeek itself says the
// ratios vary by tokenizer); it exists so that clients which budget their
// context (Claude Code) get a figure of the right size.
func CountTokens(body []byte) ([]byte, error) {
	r, perr := parse(body, nil)
	if perr != nil {
		return nil, perr
	}
	n, err := estimate(r)
	if err != nil {
		return nil, err
	}
	out := append([]byte(`{"input_tokens":`), strconv.AppendInt(nil, int64(n), 10)...)
	return append(out, '}'), nil
}

// estimate is the token estimate of a parsed request's input.
func estimate(r *request) (int, *Error) {
	var e estimator
	e.raw(r.system)
	n := 0
	err := chatwire.Array(r.messages, func(i int, m []byte) error {
		n++
		e.n += perMessage * 10
		return chatwire.Object(m, func(key, content []byte) error {
			if string(key) != "content" || chatwire.Null(content) {
				return nil
			}
			if content[0] == '"' {
				e.raw(content)
				return nil
			}
			if _, err := blocks(content, 0, chatwire.Walk{}, func(_ int, b block) *Error {
				e.raw(b.text)
				e.raw(b.thinking)
				e.text(b.name)
				e.raw(b.input)
				e.raw(b.content)
				return nil
			}); err != nil {
				return err
			}
			return nil
		})
	})
	if err != nil || n == 0 {
		return 0, invalid("messages: at least one message is required")
	}
	if !chatwire.Null(r.tools) {
		e.raw(r.tools)
	}
	return e.tokens(), nil
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
	if chatwire.Null(b) {
		return
	}
	if s, ok := chatwire.Unquote(b); ok {
		e.text(s)
		return
	}
	e.text(string(b))
}

func (e *estimator) tokens() int { return (e.n + 9) / 10 }
