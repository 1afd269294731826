package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/upstream"
)

// fakeDeepSeek stands for DeepSeek's Anthropic endpoint: it records what
// it got and answers with a canned status and body.
type fakeDeepSeek struct {
	mu          sync.Mutex
	path        string
	header      http.Header
	body        []byte
	status      int
	answer      string
	contentType string
}

func (f *fakeDeepSeek) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.path, f.header, f.body = r.URL.Path, r.Header.Clone(), b
	f.mu.Unlock()
	w.Header().Set("Content-Type", f.contentType)
	w.WriteHeader(f.status)
	io.WriteString(w, f.answer)
}

func (f *fakeDeepSeek) got() (string, http.Header, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.path, f.header, string(f.body)
}

// relayAPI serves the HTTP API over a real gateway whose model
// deepseek-chat is served by deepseek-v4-flash on a deepseek upstream (the
// fake) and, at a lower tier, by a local OpenAI-compatible engine.
func relayAPI(t *testing.T, ds http.Handler, local http.Handler) *api {
	t.Helper()
	dsSrv := httptest.NewServer(ds)
	t.Cleanup(dsSrv.Close)
	targets := []*upstream.Target{{Upstream: upstream.New(upstream.Options{Name: "ds", Kind: upstream.KindDeepSeek,
		URL: dsSrv.URL, APIKey: "sk-upstream"}), Model: "deepseek-v4-flash"}}
	if local != nil {
		lSrv := httptest.NewServer(local)
		t.Cleanup(lSrv.Close)
		targets = append(targets, &upstream.Target{Upstream: upstream.New(upstream.Options{Name: "local", Kind: upstream.KindOpenAI,
			URL: lSrv.URL}), Model: "local-model", Priority: 1})
	}
	return gatewayAPI(t, targets)
}

// gatewayAPI serves the HTTP API over a real gateway whose model
// deepseek-chat is served by targets.
func gatewayAPI(t *testing.T, targets []*upstream.Target) *api {
	t.Helper()
	gw := gateway.New(gateway.Options{Routes: []gateway.Route{{Name: "deepseek-chat",
		Pool: upstream.NewPool(targets, &upstream.RoundRobin{}, upstream.DefaultRules())}}})
	a := newAPI(t, apiOptions{})
	a.backend.complete = gw.Complete
	a.backend.stream = gw.Stream
	return a
}

const relayMessage = `{"id":"msg_1","type":"message","role":"assistant","model":"deepseek-v4-flash","content":[{"type":"thinking","thinking":"hm","signature":"s1"},{"type":"text","text":"Hello"}],` +
	`"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":7,"cache_creation_input_tokens":0,"cache_read_input_tokens":5,"output_tokens":3}}`

// relayClientBody has fields the translation would drop or rewrite
// (top_k, metadata, cache_control, odd spacing): relayed, they arrive as
// the client sent them.
const relayClientBody = `{"model":"deepseek-chat", "max_tokens":16,"top_k":3,"metadata":{"user_id":"u1"},` +
	`"system":[{"type":"text","text":"be brief","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"hi"}]}`

// A Messages request for a deepseek target reaches DeepSeek's Anthropic
// endpoint byte for byte but the model, with the upstream's key in
// x-api-key; the answer reaches the client untouched but the public model
// name, and the record holds its usage (cache reads included).
func TestMessagesRelayedUntouched(t *testing.T) {
	t.Parallel()
	ds := &fakeDeepSeek{status: 200, answer: relayMessage, contentType: "application/json"}
	a := relayAPI(t, ds, nil)
	code, hdr, body := a.doHeader(t, "/v1/messages", relayClientBody, "x-api-key", keyAdmin)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	path, h, sent := ds.got()
	wantSent := strings.Replace(relayClientBody, `"model":"deepseek-chat"`, `"model":"deepseek-v4-flash"`, 1)
	if path != "/anthropic/v1/messages" || sent != wantSent {
		t.Errorf("upstream got %s\n%s\nwant %s", path, sent, wantSent)
	}
	if h.Get("X-Api-Key") != "sk-upstream" || h.Get("Authorization") != "" || h.Get("Anthropic-Version") == "" {
		t.Errorf("upstream headers %v", h)
	}
	wantOut := strings.Replace(relayMessage, `"model":"deepseek-v4-flash"`, `"model":"deepseek-chat"`, 1)
	if string(body) != wantOut || hdr.Get("X-Dsgate-Upstream") != "ds" {
		t.Errorf("client got %s\nwant %s", body, wantOut)
	}
	e := a.audit.one(t, "POST /v1/messages")
	if e.Upstream != "ds" || e.Model != "deepseek-chat" || e.PromptTokens != 12 || e.CacheHitTokens != 5 || e.CompletionTokens != 3 ||
		e.InputSHA256 != audit.HashText(relayClientBody) || e.OutputSHA256 != audit.HashText(wantOut) || e.Status != 200 {
		t.Errorf("record %+v", e)
	}
}

const relayEvents = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"deepseek-v4-flash\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":7,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":5,\"output_tokens\":0}}}\n\n" +
	"event: ping\ndata: {\"type\":\"ping\"}\n\n" +
	"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n" +
	"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}}\n\n" +
	"event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
	"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":4}}\n\n" +
	"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"

// A relayed stream reaches the client event for event (the model renamed
// in message_start), and its usage (message_start, message_delta) is
// settled in the record.
func TestMessagesRelayedStream(t *testing.T) {
	t.Parallel()
	ds := &fakeDeepSeek{status: 200, answer: relayEvents, contentType: "text/event-stream"}
	a := relayAPI(t, ds, nil)
	body := strings.Replace(relayClientBody, `"max_tokens":16`, `"max_tokens":16,"stream":true`, 1)
	code, _, out := a.doHeader(t, "/anthropic/v1/messages", body, "x-api-key", keyAdmin)
	if code != 200 {
		t.Fatalf("%d %s", code, out)
	}
	if _, _, sent := ds.got(); !strings.Contains(sent, `"stream":true`) || strings.Contains(sent, "stream_options") {
		t.Errorf("upstream got %s", sent)
	}
	want := strings.Replace(relayEvents, `"model":"deepseek-v4-flash"`, `"model":"deepseek-chat"`, 1)
	if string(out) != want {
		t.Errorf("client got\n%s\nwant\n%s", out, want)
	}
	e := a.audit.one(t, "POST /anthropic/v1/messages")
	if e.Upstream != "ds" || e.PromptTokens != 12 || e.CacheHitTokens != 5 || e.CompletionTokens != 4 || e.OutputSHA256 == "" {
		t.Errorf("record %+v", e)
	}
}

// An error of DeepSeek's Anthropic endpoint reaches the client in
// Anthropic's shape, with its status and message.
func TestMessagesRelayedError(t *testing.T) {
	t.Parallel()
	ds := &fakeDeepSeek{status: 400, contentType: "application/json",
		answer: `{"type":"error","error":{"type":"invalid_request_error","message":"messages: roles must alternate"}}`}
	a := relayAPI(t, ds, nil)
	code, _, body := a.doHeader(t, "/v1/messages", relayClientBody, "x-api-key", keyAdmin)
	var e struct {
		Type  string `json:"type"`
		Error struct{ Type, Message string }
	}
	if code != 400 || json.Unmarshal(body, &e) != nil || e.Type != "error" || e.Error.Type != "invalid_request_error" ||
		!strings.Contains(e.Error.Message, "roles must alternate") {
		t.Errorf("%d %s", code, body)
	}
	if r := a.audit.one(t, "POST /v1/messages"); r.Status != 400 || r.ErrorType != "invalid_request_error" {
		t.Errorf("record %+v", r)
	}
}

// When the deepseek target fails before the first byte, the call falls
// back to the local engine of the same model: that attempt is translated
// to chat completions and its answer back into a Message.
func TestMessagesRelayFallsBackToTranslation(t *testing.T) {
	t.Parallel()
	ds := &fakeDeepSeek{status: 503, contentType: "application/json", answer: `{"type":"error","error":{"type":"overloaded_error","message":"busy"}}`}
	local := &fakeDeepSeek{status: 200, contentType: "application/json",
		answer: `{"id":"c1","object":"chat.completion","model":"local-model","choices":[{"index":0,"message":{"role":"assistant","content":"from local"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`}
	a := relayAPI(t, ds, local)
	code, _, body := a.doHeader(t, "/v1/messages", relayClientBody, "x-api-key", keyAdmin)
	var m struct {
		Type    string
		Model   string
		Content []struct{ Type, Text string }
	}
	if code != 200 || json.Unmarshal(body, &m) != nil || m.Type != "message" || m.Model != "deepseek-chat" ||
		len(m.Content) != 1 || m.Content[0].Text != "from local" {
		t.Fatalf("%d %s", code, body)
	}
	if path, _, sent := local.got(); path != "/v1/chat/completions" || !strings.Contains(sent, `"messages":[{"role":"system"`) {
		t.Errorf("local got %s %s", path, sent)
	}
	if e := a.audit.one(t, "POST /v1/messages"); e.Upstream != "local" || e.PromptTokens != 9 || e.CompletionTokens != 2 {
		t.Errorf("record %+v", e)
	}
}

// A stream falls back the same way: the deepseek target fails before the
// first byte, the local engine's chat chunks are translated into
// Anthropic's events.
func TestMessagesRelayStreamFallsBackToTranslation(t *testing.T) {
	t.Parallel()
	ds := &fakeDeepSeek{status: 503, contentType: "application/json", answer: `{"type":"error","error":{"type":"overloaded_error","message":"busy"}}`}
	local := &fakeDeepSeek{status: 200, contentType: "text/event-stream", answer: "" +
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"local-model\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"from \"}}]}\n\n" +
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"local-model\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"local\"},\"finish_reason\":\"stop\"}]}\n\n" +
		"data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"local-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\n" +
		"data: [DONE]\n\n"}
	a := relayAPI(t, ds, local)
	body := strings.Replace(relayClientBody, `"max_tokens":16`, `"max_tokens":16,"stream":true`, 1)
	code, _, out := a.doHeader(t, "/v1/messages", body, "x-api-key", keyAdmin)
	s := string(out)
	// The chunks' texts: one delta each, or one for both when they reach
	// the gateway together.
	text := ""
	for _, m := range regexp.MustCompile(`"text_delta","text":"([^"]*)"`).FindAllStringSubmatch(s, -1) {
		text += m[1]
	}
	if code != 200 || !strings.HasPrefix(s, "event: message_start\n") || text != "from local" ||
		!strings.HasSuffix(s, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
		t.Fatalf("%d %s", code, s)
	}
	if e := a.audit.one(t, "POST /v1/messages"); e.Upstream != "local" || e.PromptTokens != 9 || e.CompletionTokens != 2 {
		t.Errorf("record %+v", e)
	}
}
