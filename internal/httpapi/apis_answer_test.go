package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/upstream"
)

// TestTranslatedAnswerAfterRetry: when an attempt's answer is refused
// (DeepSeek's partial answer, finish_reason insufficient_system_resource)
// and another target answers, a translated call's client gets the
// translation of the answer that came last, with its usage; when no target
// answers and the model's fallback_response does, of that. (Written for a
// reading of the answer shared by the gateway and the translation, tried
// on 2026-12-07 and taken back: it billed some odd bodies otherwise than
// openai.UsageOf.)
func TestTranslatedAnswerAfterRetry(t *testing.T) {
	t.Parallel()
	engine := func(answer string) *upstream.Upstream {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, answer)
		}))
		t.Cleanup(srv.Close)
		return upstream.New(upstream.Options{Name: srv.URL, Kind: upstream.KindOpenAI, URL: srv.URL})
	}
	partial := engine(`{"id":"c1","object":"chat.completion","model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"half an"},"finish_reason":"insufficient_system_resource"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`)
	whole := engine(`{"id":"c2","object":"chat.completion","model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"the whole answer"},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":13,"total_tokens":24}}`)
	a := gatewayAPI(t, []*upstream.Target{{Upstream: partial, Model: "deepseek-chat"}, {Upstream: whole, Model: "deepseek-chat", Priority: 1}})
	canned := newAPI(t, apiOptions{})
	gw := gateway.New(gateway.Options{RetryBackoff: time.Millisecond, Routes: []gateway.Route{{Name: "deepseek-chat", FallbackResponse: "try again later",
		Pool: upstream.NewPool([]*upstream.Target{{Upstream: partial, Model: "deepseek-chat"}}, &upstream.RoundRobin{}, upstream.DefaultRules())}}})
	canned.backend.complete, canned.backend.stream = gw.Complete, gw.Stream

	for range 2 {
		code, _, out := a.doHeader(t, "/v1/messages", `{"model":"deepseek-chat","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`, "x-api-key", keyAdmin)
		if code != 200 || !strings.Contains(string(out), `"text":"the whole answer"`) || strings.Contains(string(out), "half") ||
			!strings.Contains(string(out), `"input_tokens":11`) || !strings.Contains(string(out), `"output_tokens":13`) {
			t.Errorf("/v1/messages %d\n%s", code, out)
		}
		code, _, out = a.doHeader(t, "/v1/responses", `{"model":"deepseek-chat","store":false,"input":"hi"}`, "Authorization", "Bearer "+keyAdmin)
		if code != 200 || !strings.Contains(string(out), `"text":"the whole answer"`) || strings.Contains(string(out), "half") ||
			!strings.Contains(string(out), `"input_tokens":11`) || !strings.Contains(string(out), `"output_tokens":13`) {
			t.Errorf("/v1/responses %d\n%s", code, out)
		}
		code, _, out = canned.doHeader(t, "/v1/messages", `{"model":"deepseek-chat","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`, "x-api-key", keyAdmin)
		if code != 200 || !strings.Contains(string(out), `"text":"try again later"`) || strings.Contains(string(out), "half") {
			t.Errorf("/v1/messages, fallback response: %d\n%s", code, out)
		}
		code, _, out = canned.doHeader(t, "/v1/responses", `{"model":"deepseek-chat","store":false,"input":"hi"}`, "Authorization", "Bearer "+keyAdmin)
		if code != 200 || !strings.Contains(string(out), `"text":"try again later"`) || strings.Contains(string(out), "half") {
			t.Errorf("/v1/responses, fallback response: %d\n%s", code, out)
		}
	}
}
