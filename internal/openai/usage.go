package openai

import "strconv"

// Usage is token accounting in the union of DeepSeek's and OpenAI's fields.
type Usage struct {
	PromptTokens          int `json:"prompt_tokens"`
	CompletionTokens      int `json:"completion_tokens"`
	TotalTokens           int `json:"total_tokens"`
	PromptCacheHitTokens  int `json:"prompt_cache_hit_tokens,omitempty"`
	PromptCacheMissTokens int `json:"prompt_cache_miss_tokens,omitempty"`
	PromptTokensDetails   *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details,omitempty"`
}

// CacheHitTokens is the prompt tokens served from the upstream's prefix
// cache, whichever field the upstream reports it in.
func (u Usage) CacheHitTokens() int {
	if u.PromptCacheHitTokens > 0 {
		return u.PromptCacheHitTokens
	}
	if u.PromptTokensDetails != nil {
		return u.PromptTokensDetails.CachedTokens
	}
	return 0
}

// ReasoningTokens is the chain-of-thought share of the completion tokens.
func (u Usage) ReasoningTokens() int {
	if u.CompletionTokensDetails != nil {
		return u.CompletionTokensDetails.ReasoningTokens
	}
	return 0
}

// UsageOf reads the top-level "usage" object of a response or chunk body.
// ok is false when there is none (or it is null). It walks the object with
// the scanner rather than encoding/json: it runs on every answer.
func UsageOf(body []byte) (u Usage, ok bool) {
	raw := Field(body, "usage")
	if len(raw) == 0 || raw[0] != '{' {
		return u, false
	}
	err := eachMember(raw, func(key string, v []byte) error {
		switch key {
		case "prompt_tokens":
			u.PromptTokens = atoi(v)
		case "completion_tokens":
			u.CompletionTokens = atoi(v)
		case "total_tokens":
			u.TotalTokens = atoi(v)
		case "prompt_cache_hit_tokens":
			u.PromptCacheHitTokens = atoi(v)
		case "prompt_cache_miss_tokens":
			u.PromptCacheMissTokens = atoi(v)
		case "prompt_tokens_details":
			if n := Field(v, "cached_tokens"); n != nil {
				u.PromptTokensDetails = &struct {
					CachedTokens int `json:"cached_tokens"`
				}{atoi(n)}
			}
		case "completion_tokens_details":
			if n := Field(v, "reasoning_tokens"); n != nil {
				u.CompletionTokensDetails = &struct {
					ReasoningTokens int `json:"reasoning_tokens"`
				}{atoi(n)}
			}
		}
		return nil
	})
	return u, err == nil
}

// atoi reads a JSON integer; anything else counts as 0.
func atoi(v []byte) int {
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0
	}
	return n
}
