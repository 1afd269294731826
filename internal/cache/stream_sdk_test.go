package cache_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/dsgate/dsgate/internal/cache"
)

// sseServer serves payloads as one chat completion stream, as dsgate's SSE
// writer does: "data: <payload>\n\n" each, then "data: [DONE]\n\n".
func sseServer(t *testing.T, payloads [][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, p := range payloads {
			fmt.Fprintf(w, "data: %s\n\n", p)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// sdkResult is what an openai-go user sees after accumulating a stream.
type sdkResult struct {
	ID, Model, Fingerprint string
	Created                int64
	Content, Reasoning     string
	FinishReason           string
	ToolCalls              []sdkToolCall
	PromptTokens           int64
	CompletionTokens       int64
	ReasoningTokens        int64
	CachedTokens           int64
}

type sdkToolCall struct{ ID, Name, Arguments string }

// accumulate streams payloads through a real HTTP server into openai-go's
// ChatCompletionAccumulator. reasoning_content is not an OpenAI field, so
// it is read from each delta's extra fields, as DeepSeek-aware clients do.
func accumulate(t *testing.T, payloads [][]byte) sdkResult {
	t.Helper()
	srv := sseServer(t, payloads)
	client := openai.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("test"), option.WithMaxRetries(0))
	stream := client.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "deepseek-v4-pro",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather?")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	var reasoning string
	for stream.Next() {
		chunk := stream.Current()
		if !acc.AddChunk(chunk) {
			t.Fatalf("accumulator rejected chunk %s", chunk.RawJSON())
		}
		for _, ch := range chunk.Choices {
			if f, ok := ch.Delta.JSON.ExtraFields["reasoning_content"]; ok && f.Raw() != "null" {
				var s string
				if err := json.Unmarshal([]byte(f.Raw()), &s); err != nil {
					t.Fatalf("reasoning_content %s: %v", f.Raw(), err)
				}
				reasoning += s
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if len(acc.Choices) != 1 {
		t.Fatalf("accumulated %d choices", len(acc.Choices))
	}
	msg := acc.Choices[0].Message
	//lint:ignore SA1019 DeepSeek still sends system_fingerprint; a replay must keep it.
	fingerprint := acc.SystemFingerprint
	r := sdkResult{
		ID: acc.ID, Model: acc.Model, Fingerprint: fingerprint, Created: acc.Created,
		Content: msg.Content, Reasoning: reasoning, FinishReason: acc.Choices[0].FinishReason,
		PromptTokens: acc.Usage.PromptTokens, CompletionTokens: acc.Usage.CompletionTokens,
		ReasoningTokens: acc.Usage.CompletionTokensDetails.ReasoningTokens,
		CachedTokens:    acc.Usage.PromptTokensDetails.CachedTokens,
	}
	for _, tc := range msg.ToolCalls {
		r.ToolCalls = append(r.ToolCalls, sdkToolCall{tc.ID, tc.Function.Name, tc.Function.Arguments})
	}
	return r
}

// TestReplayThroughOpenAISDK checks that a cache hit replayed as SSE is
// accumulated by the official Go SDK into the same message as the original
// upstream stream, and so is the stream rebuilt from the assembled body.
func TestReplayThroughOpenAISDK(t *testing.T) {
	for _, name := range []string{"thinking_tools", "deepseek_doc"} {
		t.Run(name, func(t *testing.T) {
			original := readSSEFile(t, name+".sse")
			want := accumulate(t, original)
			if want.Content == "" {
				t.Fatalf("original stream accumulated nothing: %+v", want)
			}

			body, err := cache.AssembleStream(original)
			if err != nil {
				t.Fatal(err)
			}
			replayed, err := cache.ReplayChunks(body, true)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, accumulate(t, replayed)); diff != "" {
				t.Errorf("replayed stream differs for the SDK (-original +replayed):\n%s", diff)
			}

			e, err := cache.NewEntry(body, original, "", testNow)
			if err != nil {
				t.Fatal(err)
			}
			hit, err := e.Stream(true)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, accumulate(t, hit)); diff != "" {
				t.Errorf("Entry.Stream differs for the SDK (-original +hit):\n%s", diff)
			}
		})
	}
}
