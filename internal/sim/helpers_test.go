package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Wire shapes as clients decode them. Pointers distinguish null or absent
// from empty.

type usageJSON struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"completion_tokens_details"`
	PromptCacheHitTokens  int `json:"prompt_cache_hit_tokens"`
	PromptCacheMissTokens int `json:"prompt_cache_miss_tokens"`
}

type toolCallJSON struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Function struct {
		Name      string  `json:"name"`
		Arguments *string `json:"arguments"`
	} `json:"function"`
}

type chatCompletionJSON struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Index   int `json:"index"`
		Message struct {
			Role             string         `json:"role"`
			Content          *string        `json:"content"`
			ReasoningContent *string        `json:"reasoning_content"`
			Reasoning        *string        `json:"reasoning"`
			ToolCalls        []toolCallJSON `json:"tool_calls"`
		} `json:"message"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason string          `json:"finish_reason"`
	} `json:"choices"`
	Usage usageJSON `json:"usage"`
}

type chatChunkJSON struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Index int `json:"index"`
		Delta struct {
			Role             *string        `json:"role"`
			Content          *string        `json:"content"`
			ReasoningContent *string        `json:"reasoning_content"`
			Reasoning        *string        `json:"reasoning"`
			ToolCalls        []toolCallJSON `json:"tool_calls"`
		} `json:"delta"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason *string         `json:"finish_reason"`
	} `json:"choices"`
	Usage *usageJSON `json:"usage"`
}

type textCompletionJSON struct {
	ID                string `json:"id"`
	Object            string `json:"object"`
	Created           int64  `json:"created"`
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Index        int             `json:"index"`
		Text         string          `json:"text"`
		Logprobs     json.RawMessage `json:"logprobs"`
		FinishReason *string         `json:"finish_reason"`
	} `json:"choices"`
	Usage *usageJSON `json:"usage"`
}

type errorJSON struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// fixedClock is the injected clock; created timestamps must equal it.
var fixedTime = time.Unix(1_750_000_000, 0)

func fixedClock() time.Time { return fixedTime }

func newTestServer(t *testing.T, opts Options) *Server {
	t.Helper()
	if opts.Clock == nil {
		opts.Clock = fixedClock
	}
	return New(opts)
}

// do sends one request to h through a recorder.
func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// decodeStrict decodes b into v, failing on fields v does not declare, so
// tests notice unexpected output.
func decodeStrict(t *testing.T, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}

// sse is a parsed event stream.
type sse struct {
	data       []string // data payloads other than [DONE]
	done       bool     // saw data: [DONE]
	keepAlives int      // ": keep-alive" comments
}

func parseSSE(t *testing.T, body string) sse {
	t.Helper()
	var out sse
	for _, event := range strings.Split(body, "\n\n") {
		for _, line := range strings.Split(event, "\n") {
			switch {
			case line == "":
			case strings.HasPrefix(line, ":"):
				out.keepAlives++
			case line == "data: [DONE]":
				if out.done {
					t.Fatalf("second [DONE] in %q", body)
				}
				out.done = true
			case strings.HasPrefix(line, "data: "):
				if out.done {
					t.Fatalf("data after [DONE]: %q", line)
				}
				out.data = append(out.data, strings.TrimPrefix(line, "data: "))
			default:
				t.Fatalf("unexpected SSE line %q", line)
			}
		}
	}
	return out
}

func chatChunks(t *testing.T, s sse) []chatChunkJSON {
	t.Helper()
	chunks := make([]chatChunkJSON, len(s.data))
	for i, d := range s.data {
		decodeStrict(t, []byte(d), &chunks[i])
	}
	return chunks
}

// streamText joins content and reasoning deltas.
func streamText(chunks []chatChunkJSON) (content, reasoning string) {
	var c, r strings.Builder
	for _, ch := range chunks {
		for _, choice := range ch.Choices {
			if p := choice.Delta.Content; p != nil {
				c.WriteString(*p)
			}
			if p := choice.Delta.ReasoningContent; p != nil {
				r.WriteString(*p)
			}
			if p := choice.Delta.Reasoning; p != nil {
				r.WriteString(*p)
			}
		}
	}
	return c.String(), r.String()
}

// startRequest posts body to a live server and returns the response; the
// caller cancels ctx to disconnect. It is safe to call from goroutines.
func startRequest(t *testing.T, ctx context.Context, url, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return http.DefaultClient.Do(req)
}

func words(s string) int { return len(strings.Fields(s)) }
