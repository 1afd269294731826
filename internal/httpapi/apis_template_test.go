package httpapi_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/upstream"
)

// localAPI serves the HTTP API over a real gateway whose model
// deepseek-chat is served by a local OpenAI-compatible engine that
// streams events (under the same model name: a renamed model is rewritten
// in every chunk, and the relay keeps no template).
func localAPI(t *testing.T, events string) *api {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, events)
	}))
	t.Cleanup(srv.Close)
	return gatewayAPI(t, []*upstream.Target{{Upstream: upstream.New(upstream.Options{Name: "local", Kind: upstream.KindOpenAI, URL: srv.URL}), Model: "deepseek-chat"}})
}

// A tool call streamed without an id, or with an empty one, in every
// chunk stays one call through the relay, which hands the translators the
// chunks its template matched (gateway.TemplateSink): the name the
// Messages translator gives the call is its own, not the chunk's (a
// review's repro: a second tool_use block opened for the second chunk).
func TestTranslatedCallWithoutAnID(t *testing.T) {
	t.Parallel()
	for _, call := range []string{
		`{"index":0,"function":{"arguments":%s}}`,
		`{"index":0,"id":"","function":{"name":"f","arguments":%s}}`,
	} {
		var events string
		for _, a := range []string{`"{"`, `"\"x\":1"`, `"}"`} {
			events += `data: {"id":"c","choices":[{"index":0,"delta":{"tool_calls":[` + strings.Replace(call, "%s", a, 1) + `]}}]}` + "\n\n"
		}
		events += `data: {"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}` + "\n\n" + "data: [DONE]\n\n"
		a := localAPI(t, events)
		code, _, out := a.doHeader(t, "/v1/messages", `{"model":"deepseek-chat","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "x-api-key", keyAdmin)
		if code != 200 || strings.Count(string(out), "event: content_block_start") != 1 || !strings.Contains(string(out), `\"x\":1`) {
			t.Errorf("%s: /v1/messages %d\n%s", call, code, out)
		}
		code, _, out = a.doHeader(t, "/v1/responses", `{"model":"deepseek-chat","stream":true,"store":false,"input":"hi"}`, "Authorization", "Bearer "+keyAdmin)
		if code != 200 || strings.Count(string(out), "event: response.output_item.added") != 1 || !strings.Contains(string(out), `"arguments":"{\"x\":1}"`) {
			t.Errorf("%s: /v1/responses %d\n%s", call, code, out)
		}
	}
}
