package openai

import "testing"

func TestUsageOf(t *testing.T) {
	t.Parallel()
	body := []byte(`{"id":"x","choices":[{"usage":{"prompt_tokens":999}}],"usage":{"prompt_tokens":10,"completion_tokens":48,"total_tokens":58,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":{"reasoning_tokens":38},"prompt_cache_hit_tokens":4,"prompt_cache_miss_tokens":6}}`)
	u, ok := UsageOf(body)
	if !ok || u.PromptTokens != 10 || u.CompletionTokens != 48 || u.TotalTokens != 58 ||
		u.CacheHitTokens() != 4 || u.ReasoningTokens() != 38 || u.PromptCacheMissTokens != 6 {
		t.Fatalf("got %+v ok %v", u, ok)
	}
	if _, ok := UsageOf([]byte(`{"usage":null}`)); ok {
		t.Error("null usage reported present")
	}
	u, _ = UsageOf([]byte(`{"usage":{"prompt_tokens":3,"prompt_tokens_details":{"cached_tokens":2}}}`))
	if u.CacheHitTokens() != 2 {
		t.Errorf("OpenAI-style cached tokens not read: %+v", u)
	}
}
