package anthropic

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dsgate/dsgate/internal/openai"
)

func TestInspect(t *testing.T) {
	s, err := Inspect([]byte(`{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"Hello there"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Model: "claude-sonnet-4-5", Stream: true, MaxTokens: 64, Thinking: true, EstimatedTokens: 8}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("Inspect (-want +got):\n%s", diff)
	}
	if _, err := Inspect([]byte(`{"model":"m","messages":[{"role":"user","content":"x"}]}`)); err == nil {
		t.Error("missing max_tokens accepted")
	}
}

func TestUsageOfRelayed(t *testing.T) {
	want := openai.Usage{PromptTokens: 18 + 32 + 2, CompletionTokens: 20, TotalTokens: 72, PromptCacheHitTokens: 32, PromptCacheMissTokens: 20}
	u, ok := UsageOf([]byte(`{"id":"m","type":"message","usage":{"input_tokens":18,"cache_creation_input_tokens":2,"cache_read_input_tokens":32,"output_tokens":20}}`))
	if !ok {
		t.Fatal("no usage")
	}
	if diff := cmp.Diff(want, u); diff != "" {
		t.Errorf("UsageOf (-want +got):\n%s", diff)
	}

	var su openai.Usage
	UsageFromEvent("message_start", []byte(`{"type":"message_start","message":{"id":"m","usage":{"input_tokens":18,"cache_creation_input_tokens":2,"cache_read_input_tokens":32,"output_tokens":1}}}`), &su)
	UsageFromEvent("content_block_delta", []byte(`{"type":"content_block_delta","usage":{"output_tokens":99}}`), &su)
	UsageFromEvent("message_delta", []byte(`{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":20}}`), &su)
	if diff := cmp.Diff(want, su); diff != "" {
		t.Errorf("UsageFromEvent (-want +got):\n%s", diff)
	}
}
