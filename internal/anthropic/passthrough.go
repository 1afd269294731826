package anthropic

import (
	"strconv"

	"github.com/dsgate/dsgate/internal/chatwire"
	"github.com/dsgate/dsgate/internal/openai"
)

// Summary is what the gateway needs from a Messages request it relays
// untouched (to DeepSeek's Anthropic endpoint): routing, limits and a
// token estimate, without translating it.
type Summary struct {
	Model           string
	Stream          bool
	MaxTokens       int
	Thinking        bool
	EstimatedTokens int // CountTokens' estimate of the input
}

// Inspect validates a Messages request body and summarises it. Errors are
// *Error values (400).
func Inspect(body []byte) (Summary, error) {
	r, err := parse(body, nil)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{Model: r.model, Stream: r.stream, MaxTokens: r.maxTokens,
		Thinking: r.thinking == "enabled" || r.thinking == "adaptive"}
	if s.Model == "" {
		return s, invalid("model: field required")
	}
	if !r.hasMaxTokens {
		return s, invalid("max_tokens: field required")
	}
	if err := checkMaxTokens(r.maxTokens); err != nil {
		return s, err
	}
	n, cerr := estimate(r)
	if cerr != nil {
		return s, cerr
	}
	s.EstimatedTokens = n
	return s, nil
}

// UsageOf reads the usage of a Message (a relayed, non-streamed answer) as
// chat usage, for metering: prompt tokens are input plus cache read plus
// cache creation tokens, the cache read tokens are the cache hits. ok is
// false when the body has no usage.
func UsageOf(message []byte) (u openai.Usage, ok bool) {
	message = chatwire.Trim(message)
	if len(message) == 0 || message[0] != '{' {
		return u, false
	}
	_ = chatwire.Object(message, func(key, v []byte) error {
		if string(key) == "usage" && !chatwire.Null(v) {
			ok = true
			addUsage(&u, v)
		}
		return nil
	})
	return u, ok
}

// UsageFromEvent updates u from one event of a relayed stream:
// message_start carries the input figures, message_delta the cumulative
// output (and, from newer servers, final input) figures. Other events
// leave u unchanged. data must be valid JSON (as relayed events are).
func UsageFromEvent(event string, data []byte, u *openai.Usage) {
	if event != "message_start" && event != "message_delta" {
		return
	}
	data = chatwire.Trim(data)
	if len(data) == 0 || data[0] != '{' {
		return
	}
	_ = chatwire.Object(data, func(key, v []byte) error {
		switch string(key) {
		case "message":
			return chatwire.Object(v, func(k, mv []byte) error {
				if string(k) == "usage" && !chatwire.Null(mv) {
					addUsage(u, mv)
				}
				return nil
			})
		case "usage":
			if !chatwire.Null(v) {
				addUsage(u, v)
			}
		}
		return nil
	})
}

// addUsage sets the fields present in the Anthropic usage object v.
func addUsage(u *openai.Usage, v []byte) {
	in, cacheRead, cacheWrite := -1, -1, -1
	_ = chatwire.Object(v, func(k, n []byte) error {
		i, err := strconv.Atoi(string(n))
		if err != nil {
			return nil
		}
		switch string(k) {
		case "input_tokens":
			in = i
		case "cache_read_input_tokens":
			cacheRead = i
		case "cache_creation_input_tokens":
			cacheWrite = i
		case "output_tokens":
			u.CompletionTokens = i
		}
		return nil
	})
	if cacheRead >= 0 {
		u.PromptCacheHitTokens = cacheRead
	}
	if in >= 0 {
		u.PromptTokens = in + max(cacheWrite, 0) + u.PromptCacheHitTokens
		u.PromptCacheMissTokens = u.PromptTokens - u.PromptCacheHitTokens
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
}
