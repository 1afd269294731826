package sim

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
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

// sdkClient is an openai-go client for srv at path ("/v1/", "/", "/beta/").
func sdkClient(srv *httptest.Server, path, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(srv.URL+path), option.WithAPIKey(key), option.WithMaxRetries(0))
}

// TestOpenAISDKStructuredOutput is JSON mode and structured output through
// the SDK: what every chat SDK's structured-output helper relies on.
func TestOpenAISDKStructuredOutput(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newTestServer(t, Options{}))
	defer srv.Close()
	client := sdkClient(srv, "/v1/", "sk-test")
	ctx := t.Context()
	messages := []openai.ChatCompletionMessageParamUnion{
		openai.SystemMessage("Reply in JSON."), openai.UserMessage("Which is the longest river?"),
	}

	res, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    "deepseek-v4-flash",
		Messages: messages,
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONObject: &shared.ResponseFormatJSONObjectParam{},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(res.Choices[0].Message.Content), &obj); err != nil {
		t.Errorf("JSON mode content %q: %v", res.Choices[0].Message.Content, err)
	}

	type step struct {
		Explanation string `json:"explanation"`
		Output      string `json:"output"`
	}
	type mathAnswer struct {
		Steps       []step  `json:"steps"`
		FinalAnswer string  `json:"final_answer"`
		Confidence  float64 `json:"confidence"`
		Verified    bool    `json:"verified"`
		Kind        string  `json:"kind"`
	}
	schema := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"steps": map[string]any{"type": "array", "items": map[string]any{
				"type": "object",
				"properties": map[string]any{
					"explanation": map[string]any{"type": "string"},
					"output":      map[string]any{"type": "string"},
				},
				"required":             []string{"explanation", "output"},
				"additionalProperties": false,
			}},
			"final_answer": map[string]any{"type": "string"},
			"confidence":   map[string]any{"type": "number", "minimum": 0, "maximum": 1},
			"verified":     map[string]any{"type": "boolean"},
			"kind":         map[string]any{"type": "string", "enum": []string{"algebra", "geometry"}},
		},
		"required":             []string{"steps", "final_answer", "confidence", "verified", "kind"},
		"additionalProperties": false,
	}
	params := openai.ChatCompletionNewParams{
		Model:    "deepseek-v4-flash",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("solve 8x + 31 = 2")},
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{
			OfJSONSchema: &shared.ResponseFormatJSONSchemaParam{JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{
				Name: "math_answer", Strict: openai.Bool(true), Schema: schema,
			}},
		},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	}
	res, err = client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	var answer mathAnswer
	dec := json.NewDecoder(strings.NewReader(res.Choices[0].Message.Content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&answer); err != nil || len(answer.Steps) == 0 || answer.Steps[0].Output == "" ||
		answer.FinalAnswer == "" || (answer.Kind != "algebra" && answer.Kind != "geometry") {
		t.Errorf("structured output %q = %+v (%v)", res.Choices[0].Message.Content, answer, err)
	}

	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != res.Choices[0].Message.Content || acc.Usage.TotalTokens != res.Usage.TotalTokens {
		t.Errorf("streamed structured output %q, want %q", acc.Choices[0].Message.Content, res.Choices[0].Message.Content)
	}
}

// TestOpenAISDKToolArguments checks that a tool call's arguments unmarshal
// into the Go struct the tool's schema describes.
func TestOpenAISDKToolArguments(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newTestServer(t, Options{}))
	defer srv.Close()
	client := sdkClient(srv, "/v1/", "sk-test")
	type weatherArgs struct {
		Location string   `json:"location"`
		Unit     string   `json:"unit"`
		Days     int      `json:"days"`
		Hourly   bool     `json:"hourly"`
		Fields   []string `json:"fields"`
		Coords   struct {
			Lat float64 `json:"lat"`
			Lon float64 `json:"lon"`
		} `json:"coords"`
	}
	tool := openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name: "get_weather",
		Parameters: openai.FunctionParameters{
			"type": "object",
			"properties": map[string]any{
				"location": map[string]any{"type": "string"},
				"unit":     map[string]any{"type": "string", "enum": []string{"celsius", "fahrenheit"}},
				"days":     map[string]any{"type": "integer", "minimum": 1, "maximum": 14},
				"hourly":   map[string]any{"type": "boolean"},
				"fields":   map[string]any{"type": "array", "items": map[string]any{"type": "string", "enum": []string{"temp", "wind", "rain"}}},
				"coords": map[string]any{"type": "object", "properties": map[string]any{
					"lat": map[string]any{"type": "number", "minimum": -90, "maximum": 90},
					"lon": map[string]any{"type": "number", "minimum": -180, "maximum": 180},
				}, "required": []string{"lat", "lon"}},
			},
			"required":             []string{"location", "unit", "days"},
			"additionalProperties": false,
		},
		Strict: openai.Bool(true),
	})
	params := openai.ChatCompletionNewParams{
		Model:    "deepseek-v4-flash",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What's the weather in Paris?")},
		Tools:    []openai.ChatCompletionToolUnionParam{tool},
	}
	check := func(calls []openai.ChatCompletionMessageToolCallUnion) {
		t.Helper()
		if len(calls) != 1 || calls[0].Function.Name != "get_weather" {
			t.Fatalf("tool calls = %+v", calls)
		}
		var args weatherArgs
		dec := json.NewDecoder(strings.NewReader(calls[0].Function.Arguments))
		dec.DisallowUnknownFields()
		// The required arguments, each within its schema; the optional
		// ones (hourly, fields, coords) are left out, as a model mostly does.
		if err := dec.Decode(&args); err != nil || args.Location == "" || (args.Unit != "celsius" && args.Unit != "fahrenheit") ||
			args.Days < 1 || args.Days > 14 || strings.Contains(calls[0].Function.Arguments, `"coords"`) {
			t.Errorf("arguments %s = %+v (%v)", calls[0].Function.Arguments, args, err)
		}
	}
	res, err := client.Chat.Completions.New(t.Context(), params)
	if err != nil {
		t.Fatal(err)
	}
	check(res.Choices[0].Message.ToolCalls)
	stream := client.Chat.Completions.NewStreaming(t.Context(), params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	check(acc.Choices[0].Message.ToolCalls)
	if acc.Choices[0].Message.ToolCalls[0].Function.Arguments != res.Choices[0].Message.ToolCalls[0].Function.Arguments {
		t.Error("streamed arguments differ")
	}
}

// TestOpenAISDKDeepSeekDouble drives the strict DeepSeek double the way an
// application on DeepSeek's API does: a thinking-mode tool-call round trip
// that passes reasoning_content back, streaming with usage, FIM on the
// /beta base URL, and DeepSeek's errors surfacing as SDK errors.
func TestOpenAISDKDeepSeekDouble(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newTestServer(t, Options{Personality: PersonalityDeepSeek, APIKey: "sk-live"}))
	defer srv.Close()
	client := sdkClient(srv, "/", "sk-live")
	ctx := t.Context()

	tools := []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name: "get_weather",
		Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{
			"location": map[string]any{"type": "string"},
		}, "required": []string{"location"}},
	})}
	messages := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("How's the weather in Hangzhou?")}
	params := openai.ChatCompletionNewParams{Model: "deepseek-v4-pro", Messages: messages, Tools: tools,
		ReasoningEffort: "high"}
	res, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatal(err)
	}
	msg := res.Choices[0].Message
	reasoning := msg.JSON.ExtraFields["reasoning_content"].Raw()
	if len(msg.ToolCalls) != 1 || res.Choices[0].FinishReason != "tool_calls" || reasoning == "" || reasoning == "null" {
		t.Fatalf("first turn = %s", res.RawJSON())
	}
	var rc string
	if err := json.Unmarshal([]byte(reasoning), &rc); err != nil {
		t.Fatal(err)
	}

	// Without reasoning_content the next turn is DeepSeek's 400.
	dropped := append(messages, msg.ToParam(), openai.ToolMessage("24℃, sunny", msg.ToolCalls[0].ID))
	params.Messages = dropped
	_, err = client.Chat.Completions.New(ctx, params)
	apiErr, ok := errors.AsType[*openai.Error](err)
	if !ok || apiErr.StatusCode != http.StatusBadRequest ||
		apiErr.Message != "The `reasoning_content` in the thinking mode must be passed back to the API." {
		t.Fatalf("turn without reasoning_content: %v", err)
	}

	assistant := msg.ToParam()
	assistant.OfAssistant.SetExtraFields(map[string]any{"reasoning_content": rc})
	params.Messages = append(messages, assistant, openai.ToolMessage("24℃, sunny", msg.ToolCalls[0].ID))
	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].FinishReason != "stop" || acc.Choices[0].Message.Content == "" || len(acc.Choices[0].Message.ToolCalls) != 0 ||
		acc.Usage.CompletionTokensDetails.ReasoningTokens == 0 || acc.Usage.PromptTokensDetails.CachedTokens == 0 {
		t.Errorf("final turn = %+v, usage %+v", acc.Choices[0], acc.Usage)
	}

	fim := sdkClient(srv, "/beta/", "sk-live")
	comp, err := fim.Completions.New(ctx, openai.CompletionNewParams{
		Model:     "deepseek-v4-flash",
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("def fib(a):")},
		Suffix:    openai.String("    return fib(a-1) + fib(a-2)"),
		MaxTokens: openai.Int(12),
	})
	if err != nil || words(comp.Choices[0].Text) != 12 {
		t.Errorf("FIM = %v, %v", comp, err)
	}

	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "deepseek-reasoner", Messages: messages})
	if apiErr, ok := errors.AsType[*openai.Error](err); !ok || apiErr.StatusCode != http.StatusBadRequest ||
		apiErr.Message != "The supported API model names are deepseek-v4-pro or deepseek-v4-flash, but you passed deepseek-reasoner." {
		t.Errorf("retired alias: %v", err)
	}
	stale := sdkClient(srv, "/", "sk-stale-key")
	_, err = stale.Chat.Completions.New(ctx, params)
	if apiErr, ok := errors.AsType[*openai.Error](err); !ok || apiErr.StatusCode != http.StatusUnauthorized ||
		apiErr.Type != "authentication_error" {
		t.Errorf("wrong key: %v", err)
	}
}
