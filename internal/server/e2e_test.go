package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/server"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

// env is a running gateway in front of simulators reached over real
// sockets, as in production.
type env struct {
	base   string
	sims   map[string]*sim.Server
	simURL map[string]string // $NAME in the config
	srv    *server.Server
	stop   context.CancelFunc
	done   chan error
}

// start runs dsgate with cfgYAML, in which $NAME is replaced by the URL of
// a simulator started with sims[NAME].
func start(t *testing.T, cfgYAML string, sims map[string]sim.Options) *env {
	t.Helper()
	e := &env{sims: map[string]*sim.Server{}, simURL: map[string]string{}}
	for name, o := range sims {
		s := sim.New(o)
		hs := httptest.NewServer(s)
		t.Cleanup(hs.Close)
		e.sims[name], e.simURL[name] = s, hs.URL
		cfgYAML = strings.ReplaceAll(cfgYAML, "$"+name, hs.URL)
	}
	cfg, err := config.Parse(strings.NewReader(cfgYAML))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	e.srv, err = server.New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.stop, e.done = cancel, make(chan error, 1)
	go func() { e.done <- e.srv.Run(ctx) }()
	e.base = "http://" + e.srv.Addr()
	t.Cleanup(func() {
		cancel()
		<-e.done
	})
	return e
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (e *env) client() openai.Client {
	return openai.NewClient(option.WithBaseURL(e.base+"/v1/"), option.WithAPIKey("test"), option.WithMaxRetries(0))
}

func (e *env) post(t *testing.T, path, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(e.base+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

const oneSim = `
version: 1
server: {listen: "127.0.0.1:0", shutdown_grace: 5s, max_body_bytes: 65536}
log: {access: false}
upstreams:
  - {name: a, kind: openai, url: "$a", first_token_timeout: 5s, idle_timeout: 2s}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
  - {name: deepseek-reasoner, targets: [{upstream: a}]}
  - {name: local-distill, targets: [{upstream: a, model: deepseek-chat}]}
`

func TestChatNonStreaming(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {}})
	c := e.client()
	resp, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:     "deepseek-reasoner",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		MaxTokens: openai.Int(8),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "deepseek-reasoner" || len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" {
		t.Fatalf("unexpected response: %+v", resp)
	}
	if resp.Usage.TotalTokens == 0 || resp.Usage.CompletionTokens != 8 {
		t.Errorf("usage = %+v", resp.Usage)
	}
	var msg struct {
		ReasoningContent string `json:"reasoning_content"`
	}
	json.Unmarshal([]byte(resp.Choices[0].Message.RawJSON()), &msg)
	if msg.ReasoningContent == "" {
		t.Errorf("reasoning_content missing from message: %s", resp.Choices[0].Message.RawJSON())
	}
	if !strings.Contains(resp.Usage.RawJSON(), "prompt_cache_hit_tokens") {
		t.Errorf("DeepSeek usage fields dropped: %s", resp.Usage.RawJSON())
	}
}

func TestModelRenamedForUpstream(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {}})
	resp, err := e.cl().Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:    "local-distill",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "local-distill" {
		t.Errorf("model = %q, want the public name", resp.Model)
	}
}

func TestChatStreamingWithUsageAndReasoning(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {}})
	stream := e.cl().Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:         "deepseek-reasoner",
		Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		MaxTokens:     openai.Int(10),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	var reasoning strings.Builder
	for stream.Next() {
		ch := stream.Current()
		acc.AddChunk(ch)
		if len(ch.Choices) > 0 {
			if f, ok := ch.Choices[0].Delta.JSON.ExtraFields["reasoning_content"]; ok && f.Raw() != "null" {
				var s string
				json.Unmarshal([]byte(f.Raw()), &s)
				reasoning.WriteString(s)
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Usage.TotalTokens == 0 {
		t.Error("include_usage: no usage chunk")
	}
	if reasoning.Len() == 0 {
		t.Error("no reasoning_content deltas")
	}
	if acc.Choices[0].Message.Content == "" || acc.Choices[0].FinishReason == "" {
		t.Errorf("accumulated %+v", acc.Choices[0])
	}
}

func TestStreamWithoutIncludeUsageHasNoUsageChunk(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {}})
	_, body := e.post(t, "/v1/chat/completions", `{"model":"deepseek-chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if bytes.Contains(body, []byte(`"choices":[]`)) {
		t.Errorf("usage-only chunk sent to a client that did not ask:\n%s", body)
	}
	if !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) {
		t.Errorf("stream does not end with [DONE]:\n%s", body)
	}
}

func TestToolCallDeltas(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {}})
	stream := e.cl().Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model:    "deepseek-chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("what is the weather in Paris?")},
		Tools: []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name:       "get_weather",
			Parameters: shared.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
		})},
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	calls := acc.Choices[0].Message.ToolCalls
	if len(calls) != 1 || calls[0].Function.Name != "get_weather" || acc.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("tool calls = %+v finish %q", calls, acc.Choices[0].FinishReason)
	}
	if !json.Valid([]byte(calls[0].Function.Arguments)) {
		t.Errorf("arguments not valid JSON after concatenation: %q", calls[0].Function.Arguments)
	}
}

func TestCompletionsFIMEmbeddingsModels(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {}})
	c := e.client()
	ctx := context.Background()

	comp, err := c.Completions.New(ctx, openai.CompletionNewParams{
		Model:  "deepseek-chat",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("def fib(a):")},
	})
	if err != nil || len(comp.Choices) == 0 || comp.Choices[0].Text == "" {
		t.Fatalf("completions: %v %+v", err, comp)
	}

	fim := openai.NewClient(option.WithBaseURL(e.base+"/beta/"), option.WithAPIKey("k"), option.WithMaxRetries(0))
	f, err := fim.Completions.New(ctx, openai.CompletionNewParams{
		Model:  "deepseek-chat",
		Prompt: openai.CompletionNewParamsPromptUnion{OfString: openai.String("def fib(a):")},
		Suffix: openai.String("    return fib(a-1) + fib(a-2)"),
	})
	if err != nil || f.Object != "text_completion" || f.Choices[0].Text == "" {
		t.Fatalf("FIM: %v %+v", err, f)
	}

	for _, format := range []openai.EmbeddingNewParamsEncodingFormat{"", openai.EmbeddingNewParamsEncodingFormatBase64} {
		emb, err := c.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model:          "deepseek-chat",
			Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
			EncodingFormat: format,
		})
		if err != nil || len(emb.Data) != 2 || len(emb.Data[0].Embedding) == 0 {
			t.Fatalf("embeddings %q: %v %+v", format, err, emb)
		}
	}

	models, err := c.Models.List(ctx)
	if err != nil || len(models.Data) != 3 || models.Data[0].Created == 0 {
		t.Fatalf("models: %v %+v", err, models)
	}
	m, err := c.Models.Get(ctx, "deepseek-reasoner")
	if err != nil || m.ID != "deepseek-reasoner" {
		t.Fatalf("model get: %v %+v", err, m)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {}})
	tests := []struct {
		name, path, body string
		status           int
		typ, code        string
	}{
		{"malformed JSON", "/v1/chat/completions", `{"model":`, 400, "invalid_request_error", ""},
		{"missing messages", "/v1/chat/completions", `{"model":"deepseek-chat"}`, 400, "invalid_request_error", ""},
		{"unknown model", "/v1/chat/completions", `{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}`, 404, "invalid_request_error", "model_not_found"},
		{"too large", "/v1/chat/completions", `{"model":"deepseek-chat","messages":[{"role":"user","content":"` + strings.Repeat("x", 70000) + `"}]}`, 413, "invalid_request_error", "request_too_large"},
		{"unknown route", "/v1/nothing", `{}`, 404, "not_found_error", "unknown_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.post(t, tt.path, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			var eb struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Message == "" || eb.Error.Type != tt.typ {
				t.Fatalf("body %s (err %v)", body, err)
			}
			if tt.code != "" && (eb.Error.Code == nil || *eb.Error.Code != tt.code) {
				t.Errorf("code = %v, want %s", eb.Error.Code, tt.code)
			}
		})
	}
	resp, err := http.Get(e.base + "/v1/chat/completions")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET on a POST route: %d", resp.StatusCode)
	}
	// The SDK maps the status to its typed error.
	_, err = e.cl().Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "nope", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("x")}})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
		t.Errorf("SDK error = %v", err)
	}
}

func TestRequestIDEchoed(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {}})
	req, _ := http.NewRequest("GET", e.base+"/v1/models", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("X-Request-Id = %q", got)
	}
	req.Header.Set("X-Request-Id", "bad id\twith spaces")
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); len(got) != 32 {
		t.Errorf("unsafe id not replaced: %q", got)
	}
}

func TestClientCancelStopsUpstream(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {TokensPerSecond: 20}})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", e.base+"/v1/chat/completions",
		strings.NewReader(`{"model":"deepseek-chat","stream":true,"max_tokens":1000,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil { // the stream has started
		t.Fatal(err)
	}
	s := e.sims["a"]
	if s.Stats().Running != 1 {
		t.Fatalf("running = %d", s.Stats().Running)
	}
	cancel()
	resp.Body.Close()
	testkit.Eventually(t, 2*time.Second, "the upstream request to end", func() bool { return s.Stats().Running == 0 })
}

func (e *env) cl() *openai.Client {
	c := e.client()
	return &c
}

func newChatParams(model, msg string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(msg)},
	}
}
