package sim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Regression test for issue 20: the simulator accepted prompts of any
// length, where llama-server refuses one that fills its context with 400
// exceed_context_size_error (found by the engine conformance suite).
func TestContextLengthRefusesLongPrompts(t *testing.T) {
	long := strings.Repeat("word ", 40)
	for _, tt := range []struct {
		name        string
		personality Personality
		path, body  string
		wantType    string
		wantMessage string
	}{
		{"plain chat", PersonalityPlain, "/v1/chat/completions",
			`{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"` + long + `"}]}`,
			"exceed_context_size_error", "exceeds the available context size (32 tokens)"},
		{"plain stream", PersonalityPlain, "/v1/chat/completions",
			`{"model":"deepseek-v4-flash","stream":true,"messages":[{"role":"user","content":"` + long + `"}]}`,
			"exceed_context_size_error", "try increasing it"},
		{"plain completion", PersonalityPlain, "/v1/completions",
			`{"model":"deepseek-v4-flash","prompt":"` + long + `"}`,
			"exceed_context_size_error", "request (40 tokens)"},
		{"deepseek chat", PersonalityDeepSeek, "/v1/chat/completions",
			`{"model":"deepseek-v4-flash","max_tokens":4,"messages":[{"role":"user","content":"` + long + `"}]}`,
			"invalid_request_error", "maximum context length is 32 tokens"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Options{Personality: tt.personality, ContextLength: 32, KeepAliveEvery: -1})
			rec := do(t, s, "POST", tt.path, tt.body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var body struct {
				Error struct {
					Type    string `json:"type"`
					Message string `json:"message"`
					NCtx    int    `json:"n_ctx"`
				} `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body.Error.Type != tt.wantType || !strings.Contains(body.Error.Message, tt.wantMessage) {
				t.Errorf("error %s", rec.Body)
			}
			if tt.personality == PersonalityPlain && body.Error.NCtx != 32 {
				t.Errorf("n_ctx %d, want 32", body.Error.NCtx)
			}
		})
	}
	s := newTestServer(t, Options{ContextLength: 32})
	if rec := do(t, s, "POST", "/v1/completions", `{"model":"deepseek-v4-flash","prompt":"short"}`); rec.Code != 200 {
		t.Errorf("a short prompt: %d %s", rec.Code, rec.Body)
	}
}
