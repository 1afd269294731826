package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/store/storetest"
	"github.com/dsgate/dsgate/internal/upstream"
)

const (
	messagesBody  = `{"model":"deepseek-chat","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`
	responsesBody = `{"model":"deepseek-chat","input":"hi"}`
)

// The Anthropic routes answer every error in Anthropic's shape, from the
// route adapter (no key) to the pipeline (a model the key may not use)
// and the translator (an invalid body); the record names the route.
func TestMessagesErrorsInAnthropicShape(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	for _, c := range []struct {
		name, key, body, typ string
		status               int
	}{
		{"no key", "", messagesBody, "authentication_error", 401},
		{"model not allowed", keyDev, strings.Replace(messagesBody, "deepseek-chat", "deepseek-reasoner", 1), "permission_error", 403},
		{"invalid body", keyAdmin, `{"model":"deepseek-chat","messages":[]}`, "invalid_request_error", 400},
	} {
		code, _, body := a.do(t, "POST", "/v1/messages", c.key, c.body)
		var e struct {
			Type  string `json:"type"`
			Error struct{ Type, Message string }
		}
		if code != c.status || json.Unmarshal(body, &e) != nil || e.Type != "error" || e.Error.Type != c.typ {
			t.Errorf("%s: %d %s", c.name, code, body)
		}
	}
	code, _, body := a.do(t, "POST", "/anthropic/v1/messages", keyAdmin, messagesBody)
	if code != 200 || !strings.Contains(string(body), `"type":"message"`) {
		t.Fatalf("%d %s", code, body)
	}
	a.audit.one(t, "POST /anthropic/v1/messages")
}

// An x-api-key header authenticates like a Bearer token (Anthropic SDKs).
func TestMessagesXAPIKey(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	code, _, body := a.doHeader(t, "/v1/messages", messagesBody, "x-api-key", keyAdmin)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	if e := a.audit.one(t, "POST /v1/messages"); e.Principal != "k_admin" || e.Model != "deepseek-chat" {
		t.Errorf("record %+v", e)
	}
}

// A stored response is its principal's: another gets 404 on GET, DELETE
// and previous_response_id, as with files and batches.
func TestResponsesStoredPerPrincipal(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{responses: storetest.OpenSQLite(t)})
	code, _, body := a.do(t, "POST", "/v1/responses", keyAdmin, responsesBody)
	var r struct {
		ID    string `json:"id"`
		Store bool   `json:"store"`
	}
	if code != 200 || json.Unmarshal(body, &r) != nil || r.ID == "" || !r.Store {
		t.Fatalf("%d %s", code, body)
	}
	if code, _, body := a.do(t, "GET", "/v1/responses/"+r.ID, keyAdmin, ""); code != 200 || !strings.Contains(string(body), r.ID) {
		t.Fatalf("owner GET: %d %s", code, body)
	}
	code, _, body = a.do(t, "GET", "/v1/responses/"+r.ID+"/input_items?order=asc", keyAdmin, "")
	if code != 200 || !strings.HasPrefix(string(body), `{"object":"list","data":[{"type":"message","role":"user","content":"hi"}]`) {
		t.Errorf("input_items: %d %s", code, body)
	}
	if code, _, _ := a.do(t, "GET", "/v1/responses/"+r.ID+"/input_items", keyAnalyst, ""); code != 404 {
		t.Errorf("another principal's input_items: %d", code)
	}
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/responses/" + r.ID, ""},
		{"DELETE", "/v1/responses/" + r.ID, ""},
		{"POST", "/v1/responses", `{"model":"deepseek-chat","input":"more","previous_response_id":"` + r.ID + `"}`},
	} {
		if code, _, body := a.do(t, c.method, c.path, keyAnalyst, c.body); code != 404 {
			t.Errorf("another principal %s %s: %d %s", c.method, c.path, code, body)
		}
	}
	code, _, body = a.do(t, "POST", "/v1/responses", keyAdmin, `{"model":"deepseek-chat","input":"more","previous_response_id":"`+r.ID+`"}`)
	if code != 200 || !strings.Contains(string(body), `"previous_response_id":"`+r.ID+`"`) {
		t.Fatalf("follow-up: %d %s", code, body)
	}
	if code, _, _ := a.do(t, "DELETE", "/v1/responses/"+r.ID, keyAdmin, ""); code != 200 {
		t.Errorf("owner DELETE: %d", code)
	}
	if code, _, _ := a.do(t, "GET", "/v1/responses/"+r.ID, keyAdmin, ""); code != 404 {
		t.Errorf("GET after DELETE: %d", code)
	}
}

// Without a store a response says store false and previous_response_id is
// refused, not ignored.
func TestResponsesWithoutStore(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	code, _, body := a.do(t, "POST", "/v1/responses", keyAdmin, responsesBody)
	if code != 200 || !strings.Contains(string(body), `"store":false`) {
		t.Fatalf("%d %s", code, body)
	}
	code, _, body = a.do(t, "POST", "/v1/responses", keyAdmin, `{"model":"deepseek-chat","input":"x","previous_response_id":"resp_1"}`)
	if code != 400 || !strings.Contains(string(body), `"param":"previous_response_id"`) {
		t.Fatalf("%d %s", code, body)
	}
}

// An upstream that breaks off mid-stream ends each API's stream its own
// way: Anthropic's error event, the Responses API's response.failed; the
// record keeps the error. Before the first event, the error is JSON.
func TestAPIStreamErrors(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	cut := &upstream.Error{Upstream: "up", Retryable: true, Err: gateway.ErrStreamCut}
	a.backend.stream = func(_ context.Context, _ *gateway.Call, sink gateway.Sink) (*gateway.Result, error) {
		sink.Data([]byte(`{"id":"c1","model":"deepseek-chat","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"}}]}`))
		return &gateway.Result{Started: true, Upstream: "up"}, cut
	}
	for _, c := range []struct{ path, body, want string }{
		{"/v1/messages", `{"model":"deepseek-chat","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\""},
		{"/v1/responses", `{"model":"deepseek-chat","stream":true,"input":"hi"}`, "event: response.failed\n"},
	} {
		code, hd, body := a.do(t, "POST", c.path, keyAdmin, c.body)
		if code != 200 || hd.Get("Content-Type") != "text/event-stream" || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: %d %s", c.path, code, body)
		}
		if e := a.audit.one(t, "POST "+c.path); e.ErrorType == "" {
			t.Errorf("%s: record without the error: %+v", c.path, e)
		}
	}
	a.backend.stream = func(context.Context, *gateway.Call, gateway.Sink) (*gateway.Result, error) { return nil, cut }
	code, _, body := a.do(t, "POST", "/v1/messages", keyAdmin,
		`{"model":"deepseek-chat","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	if code < 500 || !strings.HasPrefix(string(body), `{"type":"error","error":{`) {
		t.Errorf("before the first event: %d %s", code, body)
	}
}

// A chunk the translators cannot read (cut, or not JSON) after the stream
// began ends it with the API's error event, and nothing after it: the
// chunks are validated before they are walked.
func TestAPIStreamMalformedChunk(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	for _, bad := range []string{`{"id":"c1","choices":[{"index":0,"delta":{"content":"cut`, `not json`, `{"choices":[{"delta":{"content":"x"}}]}]`} {
		a.backend.stream = func(_ context.Context, _ *gateway.Call, sink gateway.Sink) (*gateway.Result, error) {
			if err := sink.Data([]byte(`{"id":"c1","model":"deepseek-chat","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"}}]}`)); err != nil {
				return &gateway.Result{}, err
			}
			return &gateway.Result{Started: true, Upstream: "up"}, sink.Data([]byte(bad))
		}
		for _, c := range []struct{ path, body, want string }{
			{"/v1/messages", `{"model":"deepseek-chat","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
				"event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\""},
			{"/v1/responses", `{"model":"deepseek-chat","stream":true,"input":"hi"}`, "event: response.failed\n"},
		} {
			code, _, body := a.do(t, "POST", c.path, keyAdmin, c.body)
			i := strings.Index(string(body), c.want)
			if code != 200 || i < 0 || strings.Contains(string(body[i+len(c.want):]), "event: ") {
				t.Errorf("%s after %q: %d %s", c.path, bad, code, body)
			}
		}
	}
}
