package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

// Parity of the three client APIs (chat completions, Anthropic Messages,
// Responses) for the same failure: each answers it in its own error shape
// and with the same consequences.

// anthropicError reports whether body is Anthropic's error envelope.
func anthropicError(body []byte) bool {
	var e struct {
		Type  string
		Error struct{ Type, Message string }
	}
	return json.Unmarshal(body, &e) == nil && e.Type == "error" && e.Error.Type != "" && e.Error.Message != ""
}

// A panic serving a Messages request is answered like any other Messages
// error: Anthropic's JSON envelope before the stream began, Anthropic's
// named error event after (an Anthropic SDK ignores an unnamed data event,
// so the stream would end with no error and no message_stop).
func TestAPIParityPanicInAPIShape(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	a.backend.complete = func(context.Context, *gateway.Call) (*gateway.Result, error) { panic("boom") }
	a.backend.stream = func(_ context.Context, _ *gateway.Call, sink gateway.Sink) (*gateway.Result, error) {
		sink.Data([]byte(`{"id":"c1","model":"deepseek-chat","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"}}]}`))
		if f, ok := sink.(gateway.FlushSink); ok {
			f.Flush()
		}
		panic("boom")
	}
	for _, path := range []string{"/v1/messages", "/anthropic/v1/messages"} {
		status, _, body := a.do(t, http.MethodPost, path, keyAdmin, messagesBody)
		if status != http.StatusInternalServerError || !anthropicError(body) {
			t.Errorf("%s, panic before the answer: %d %s; want 500 in Anthropic's shape", path, status, body)
		}
		status, _, body = a.do(t, http.MethodPost, path, keyAdmin,
			`{"model":"deepseek-chat","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
		if status != http.StatusOK || !strings.Contains(string(body), "event: message_start") {
			t.Fatalf("%s stream: %d %s", path, status, body)
		}
		if !strings.Contains(string(body), "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\"") {
			t.Errorf("%s, panic mid-stream: no Anthropic error event; the stream ends with %q", path, tail(body))
		}
	}
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndex(s, "\n\n"); i >= 0 {
		return s[i+2:]
	}
	return s
}

// failingStore is a response store whose writes fail (a database outage).
type failingStore struct{}

func (failingStore) PutResponse(context.Context, store.StoredResponse) error {
	return errors.New("database is down")
}
func (failingStore) Response(context.Context, string, string) (store.StoredResponse, error) {
	return store.StoredResponse{}, store.ErrNotFound
}
func (failingStore) DeleteResponse(context.Context, string, string) error { return store.ErrNotFound }

// A Responses answer that could not be stored is still delivered when not
// streamed, as it is when streamed (the failure is logged): the call has
// been charged by then, and a 500 makes the SDKs retry (and pay) again.
func TestAPIParityResponsesStoreFailure(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{responses: failingStore{}})
	status, h, body := a.do(t, http.MethodPost, "/v1/responses", keyAdmin,
		`{"model":"deepseek-chat","stream":true,"input":"hi"}`)
	if status != http.StatusOK || h.Get("Content-Type") != "text/event-stream" || !strings.Contains(string(body), "event: response.completed") {
		t.Fatalf("stream with a failing store: %d %s", status, body)
	}
	status, _, body = a.do(t, http.MethodPost, "/v1/responses", keyAdmin, responsesBody)
	if status != http.StatusOK || !strings.Contains(string(body), `"object":"response"`) {
		t.Errorf("not streamed, with a failing store: %d %s; the stream got its answer (200)", status, body)
	}
}

// A Responses answer cut at max_output_tokens (status "incomplete") is
// stored like a complete one whether or not it was streamed: GET
// /v1/responses/{id} and previous_response_id find it. The stream stored
// only on response.completed, so a streamed incomplete answer was lost.
func TestAPIParityResponsesIncompleteIsStored(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{responses: storetest.OpenSQLite(t)})
	a.backend.complete = func(_ context.Context, c *gateway.Call) (*gateway.Result, error) {
		res := answer(c)
		res.Body = []byte(strings.Replace(string(res.Body), `"content":"hi"}}`, `"content":"hi"},"finish_reason":"length"}`, 1))
		return res, nil
	}
	a.backend.stream = func(_ context.Context, _ *gateway.Call, sink gateway.Sink) (*gateway.Result, error) {
		sink.Data([]byte(`{"id":"c2","object":"chat.completion.chunk","model":"deepseek-chat","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":null}]}`))
		sink.Data([]byte(`{"id":"c2","object":"chat.completion.chunk","model":"deepseek-chat","choices":[{"index":0,"delta":{},"finish_reason":"length"}]}`))
		sink.Data([]byte(`{"id":"c2","object":"chat.completion.chunk","model":"deepseek-chat","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`))
		sink.Data([]byte("[DONE]"))
		return &gateway.Result{Upstream: "up", Started: true}, nil
	}
	for _, stream := range []bool{false, true} {
		body := `{"model":"deepseek-chat","max_output_tokens":1,"input":"hi"}`
		if stream {
			body = `{"model":"deepseek-chat","max_output_tokens":1,"stream":true,"input":"hi"}`
		}
		code, _, out := a.do(t, "POST", "/v1/responses", keyAdmin, body)
		if code != 200 || !strings.Contains(string(out), `"status":"incomplete"`) {
			t.Fatalf("stream %v: %d %s", stream, code, out)
		}
		id := responseID(out)
		if id == "" {
			t.Fatalf("stream %v: no response id in %s", stream, out)
		}
		if code, _, got := a.do(t, "GET", "/v1/responses/"+id, keyAdmin, ""); code != 200 {
			t.Errorf("stream %v: the incomplete response %s was not stored: GET %d %s", stream, id, code, got)
		}
	}
}

// responseID is the first response id ("resp_...") in out.
func responseID(out []byte) string {
	s := string(out)
	i := strings.Index(s, `"id":"resp_`)
	if i < 0 {
		return ""
	}
	s = s[i+len(`"id":"`):]
	return s[:strings.IndexByte(s, '"')]
}
