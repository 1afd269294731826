package httpapi_test

// Hostile-tenant tests of the Anthropic Messages and OpenAI Responses APIs.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

// decodingDeepSeek stands for DeepSeek's Anthropic endpoint as a real JSON
// server reads a body (encoding/json here; Python's json alike): escaped
// keys are unescaped and the last duplicate wins. It records what it
// understood and answers in the shape the body asked for, as DeepSeek
// does (a stream when stream is true).
type decodingDeepSeek struct {
	mu        sync.Mutex
	calls     int
	maxTokens []int
	streams   []bool
}

func (f *decodingDeepSeek) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var v struct {
		MaxTokens int  `json:"max_tokens"`
		Stream    bool `json:"stream"`
	}
	_ = json.Unmarshal(b, &v)
	f.mu.Lock()
	f.calls++
	f.maxTokens = append(f.maxTokens, v.MaxTokens)
	f.streams = append(f.streams, v.Stream)
	f.mu.Unlock()
	if v.Stream {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, relayEvents)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, relayMessage)
}

// A Messages request relayed to a deepseek upstream must mean upstream
// what dsgate validated, admitted and charged. The translator reads keys
// by their raw bytes, so a key spelled with a JSON escape ("max_tok\u0065ns")
// is invisible to it, while the body relayed untouched reaches DeepSeek,
// whose JSON parser unescapes it and lets the last duplicate win:
//
//   - max_tokens: the TPM and budget reservations (and the max_tokens
//     bound) are taken for 16 tokens while DeepSeek is asked for 100000;
//   - stream: dsgate runs a non-streaming call, DeepSeek streams, the
//     answer is "not JSON" and retried: every attempt is a whole
//     generation on the operator's account, and the tenant is charged
//     nothing (a 502).
//
// Either the request is refused (400, as /v1/chat/completions refuses
// smuggled keys) or the upstream gets what was admitted.
func TestHostileMessagesRelaySmuggledEscapedKeys(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, body string
		wantMax    int
		wantStream bool
	}{
		{"max_tokens", `{"model":"deepseek-chat","max_tokens":16,"max_tok\u0065ns":100000,"messages":[{"role":"user","content":"hi"}]}`, 16, false},
		{"stream", `{"model":"deepseek-chat","max_tokens":16,"stream":false,"str\u0065am":true,"messages":[{"role":"user","content":"hi"}]}`, 16, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ds := &decodingDeepSeek{}
			a := relayAPI(t, ds, nil)
			code, _, out := a.doHeader(t, "/v1/messages", c.body, "x-api-key", keyAdmin)
			if code == http.StatusBadRequest {
				return // refused before anything was reserved or sent: fine
			}
			ds.mu.Lock()
			defer ds.mu.Unlock()
			for i := range ds.calls {
				if ds.maxTokens[i] != c.wantMax || ds.streams[i] != c.wantStream {
					t.Errorf("dsgate admitted max_tokens %d, stream %v; attempt %d asked DeepSeek for max_tokens %d, stream %v (client got %d %.200s)",
						c.wantMax, c.wantStream, i+1, ds.maxTokens[i], ds.streams[i], code, out)
				}
			}
		})
	}
}

// Response ids are "resp_" + the upstream's chat id, and an upstream's
// chat ids need not be unique: Ollama's OpenAI API numbers them
// chatcmpl-0 .. chatcmpl-998 at random, an engine that sends none makes
// every response "resp_dsgate", a cached answer repeats its id. Two
// different responses of one principal then share an id: the second
// silently replaces the first in the store, GET and input_items of the
// first return the second conversation, and previous_response_id
// continues the wrong conversation (for an application that serves many
// end users through one key, another user's).
func TestHostileResponsesIDsUniquePerResponse(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{responses: storetest.OpenSQLite(t)})
	a.backend.complete = func(_ context.Context, c *gateway.Call) (*gateway.Result, error) {
		body := `{"id":"chatcmpl-7","object":"chat.completion","model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`
		return &gateway.Result{Body: []byte(body), Upstream: "ollama", HasUsage: true,
			Usage: openai.Usage{PromptTokens: 3, CompletionTokens: 1, TotalTokens: 4}}, nil
	}
	code, _, out := a.do(t, "POST", "/v1/responses", keyAdmin, `{"model":"deepseek-chat","input":"alice: my card is 4111"}`)
	first := responseID(out)
	if code != 200 || first == "" {
		t.Fatalf("%d %s", code, out)
	}
	code, _, out = a.do(t, "POST", "/v1/responses", keyAdmin, `{"model":"deepseek-chat","input":"bob: hello"}`)
	second := responseID(out)
	if code != 200 || second == "" {
		t.Fatalf("%d %s", code, out)
	}
	if first == second {
		t.Errorf("two different responses got the same id %s", first)
	}
	code, _, out = a.do(t, "GET", "/v1/responses/"+first+"/input_items", keyAdmin, "")
	if code != 200 || !strings.Contains(string(out), "alice") || strings.Contains(string(out), "bob") {
		t.Errorf("input_items of the first response %s: %d %s", first, code, out)
	}
}
