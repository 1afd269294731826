package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/gateway"
)

// A 5xx blamed on the request reaches the caller as a 400 with a message
// of the gateway's own (the known fault, the engine's error type) and
// never the engine's text, which may name internal paths and hosts.
func TestRequestFaultMessageStaysInternal(t *testing.T) {
	t.Parallel()
	secret := " - internal path /models/secret-llama/ggml.bin host=10.0.3.7"
	for _, tc := range []struct {
		name, body, want string
	}{
		{"known fault", `{"error":{"message":"image input is not supported` + secret + `","type":"server_error","code":500}}`,
			"image input is not supported"},
		{"typed fault", `{"error":{"message":"bad grammar` + secret + `","type":"invalid_request_error","code":"bad_grammar"}}`,
			"could not process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, "a", func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(500)
				fmt.Fprint(w, tc.body)
			})
			var log syncBuffer
			g := newGateway(gateway.Options{MaxAttempts: 2, Routes: []gateway.Route{route("m", nil, up("a", f.srv.URL))},
				Logger: slog.New(slog.NewTextHandler(&log, nil))})
			_, err := g.Complete(context.Background(), chat(t, "1", "m"))
			ae := apierror.From(err)
			if ae.Status != 400 || ae.Code != "request_not_processable" {
				t.Fatalf("got %d %s %q", ae.Status, ae.Code, ae.Message)
			}
			if strings.Contains(ae.Message, "10.0.3.7") || strings.Contains(ae.Message, "secret-llama") || !strings.Contains(ae.Message, tc.want) {
				t.Errorf("caller got %q", ae.Message)
			}
			if !strings.Contains(log.String(), "secret-llama") {
				t.Errorf("the full text is not in the log: %s", log.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Issue 20: engines answer a prompt longer than their context with a 400
// of their own shape. llama-server's (format_error_response with
// ERROR_TYPE_EXCEED_CONTEXT_SIZE) carries its type and both token counts;
// dsgate passed code null and dropped the rest, so clients could spot an
// overflow only from the text. Now code is OpenAI's context_length_exceeded
// for every engine's overflow, and llama.cpp's type and counts are kept.
func TestContextOverflowKeepsEngineTypeAndCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		engine, body  string
		upType        string
		nPrompt, nCtx int
	}{
		{"llama.cpp", `{"error":{"code":400,"message":"request (4476 tokens) exceeds the available context size (4096 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":4476,"n_ctx":4096}}`,
			"exceed_context_size_error", 4476, 4096},
		{"vLLM", `{"error":{"message":"This model's maximum context length is 4096 tokens. However, you requested 4600 tokens (4476 in the messages, 124 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}}`,
			"BadRequestError", 0, 0},
		{"SGLang", `{"object":"error","message":"The input (4476 tokens) is longer than the model's context length (4096 tokens).","type":"BadRequestError","param":null,"code":400}`,
			"BadRequestError", 0, 0},
	} {
		t.Run(tc.engine, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, "a", func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", "application/json; charset=utf-8")
				w.WriteHeader(400)
				fmt.Fprint(w, tc.body)
			})
			g := newGateway(gateway.Options{MaxAttempts: 2, Routes: []gateway.Route{route("m", nil, up("a", f.srv.URL))}})
			_, err := g.Complete(context.Background(), chat(t, "1", "m"))
			ae := apierror.From(err)
			if ae.Status != 400 || ae.Type != "invalid_request_error" || ae.Code != "context_length_exceeded" {
				t.Fatalf("got %d %s %q %q; want a 400 with code context_length_exceeded", ae.Status, ae.Type, ae.Code, ae.Message)
			}
			var got struct {
				Error struct {
					UpstreamType  string `json:"upstream_type"`
					NPromptTokens int    `json:"n_prompt_tokens"`
					NCtx          int    `json:"n_ctx"`
				} `json:"error"`
			}
			if err := json.Unmarshal(ae.JSON(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Error.UpstreamType != tc.upType || got.Error.NPromptTokens != tc.nPrompt || got.Error.NCtx != tc.nCtx {
				t.Errorf("client got %s; want upstream_type %s, n_prompt_tokens %d, n_ctx %d", ae.JSON(), tc.upType, tc.nPrompt, tc.nCtx)
			}
		})
	}
}
