package sim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// TestOpenAISDK drives the simulator with the official Go SDK: if its
// decoders, stream reader and accumulator are happy, real clients are too.
func TestOpenAISDK(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, Options{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	ctx := t.Context()
	params := openai.ChatCompletionNewParams{
		Model:     "deepseek-reasoner",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		MaxTokens: openai.Int(8),
	}

	res, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	if res.Choices[0].FinishReason != "length" || words(res.Choices[0].Message.Content) != 4 ||
		res.Usage.CompletionTokensDetails.ReasoningTokens != 4 {
		t.Errorf("completion = %s", res.RawJSON())
	}
	var reasoning string
	if err := json.Unmarshal([]byte(res.Choices[0].Message.JSON.ExtraFields["reasoning_content"].Raw()), &reasoning); err != nil || words(reasoning) != 4 {
		t.Errorf("reasoning_content = %q (%v)", reasoning, err)
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != res.Choices[0].Message.Content || acc.Usage.TotalTokens != res.Usage.TotalTokens {
		t.Errorf("streamed %q (usage %+v), want %q", acc.Choices[0].Message.Content, acc.Usage, res.Choices[0].Message.Content)
	}

	tools := openai.ChatCompletionNewParams{
		Model:    "deepseek-chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("weather in Paris?")},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
			Name: "get_weather",
		})},
	}
	stream = client.Chat.Completions.NewStreaming(ctx, tools)
	acc = openai.ChatCompletionAccumulator{}
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if calls := acc.Choices[0].Message.ToolCalls; len(calls) != 1 || calls[0].Function.Name != "get_weather" ||
		!json.Valid([]byte(calls[0].Function.Arguments)) {
		t.Errorf("accumulated tool calls = %+v", calls)
	}

	comp, err := client.Completions.New(ctx, openai.CompletionNewParams{
		Model:  "deepseek-chat",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("def f():")},
		Suffix: openai.String("return 1"),
	})
	if err != nil || comp.Choices[0].FinishReason != "stop" || words(comp.Choices[0].Text) != 16 {
		t.Errorf("completion = %v, %v", comp, err)
	}

	emb, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
		Model: "deepseek-chat",
		Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
	})
	if err != nil || len(emb.Data) != 2 || len(emb.Data[1].Embedding) != 16 {
		t.Errorf("embeddings = %v, %v", emb, err)
	}

	models, err := client.Models.List(ctx)
	if err != nil || len(models.Data) != len(DefaultModels()) || models.Data[0].OwnedBy != "dsgate-sim" {
		t.Errorf("models = %v, %v", models, err)
	}

	s.SetFaults(Faults{ErrorRate: 1, ErrorStatus: http.StatusTooManyRequests})
	_, err = client.Chat.Completions.New(ctx, params)
	apiErr, ok := errors.AsType[*openai.Error](err)
	if !ok || apiErr.StatusCode != http.StatusTooManyRequests || apiErr.Message != "Rate Limit Reached" {
		t.Errorf("injected 429 surfaced as %v", err)
	}
}
