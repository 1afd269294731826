package httpapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/store/storetest"
	"github.com/dsgate/dsgate/internal/testkit"
)

// A fault only the chat completions rules find (the translators pass it
// on: temperature 3, top_p 0, a model with a control character or over
// 256 bytes) now comes from the translator's reading of the chat body
// (RequestInfo.Chat) instead of the pipeline's parse of it. It must still
// be a 400 in the API's own error shape, before the stream starts (no
// event stream), with nothing sent upstream, and a record that names the
// principal, as it was.
func TestHostileChatOnlyFaultsReachTheClient(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{responses: storetest.OpenSQLite(t)})
	var calls atomic.Int64
	a.backend.complete = func(_ context.Context, c *gateway.Call) (*gateway.Result, error) {
		calls.Add(1)
		return answer(c), nil
	}
	a.backend.stream = func(context.Context, *gateway.Call, gateway.Sink) (*gateway.Result, error) {
		calls.Add(1)
		return nil, nil
	}
	long := strings.Repeat("m", 257)
	for _, c := range []struct {
		path, body, want string
	}{
		{"/v1/messages", `{"model":"deepseek-chat","max_tokens":8,"temperature":3,"messages":[{"role":"user","content":"hi"}]}`, "temperature must be between 0 and 2"},
		{"/v1/messages", `{"model":"deepseek-chat","max_tokens":8,"stream":true,"temperature":3,"messages":[{"role":"user","content":"hi"}]}`, "temperature must be between 0 and 2"},
		{"/v1/messages", `{"model":"deepseek-chat","max_tokens":8,"top_p":0,"messages":[{"role":"user","content":"hi"}]}`, "top_p must be greater than 0"},
		{"/v1/messages", `{"model":"deepseek-chat","max_tokens":8,"stream":true,"top_p":-0,"messages":[{"role":"user","content":"hi"}]}`, "top_p must be greater than 0"},
		{"/v1/messages", `{"model":"deepseek-chat","max_tokens":8,"temperature":1e400,"messages":[{"role":"user","content":"hi"}]}`, `expected a number`},
		{"/v1/messages", `{"model":"deepseek-chat\u0007","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`, "control characters"},
		{"/v1/messages", `{"model":"` + long + `","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "at most 256 bytes"},
		{"/anthropic/v1/messages", `{"model":"deepseek-chat","max_tokens":8,"temperature":2.5,"messages":[{"role":"user","content":"hi"}]}`, "temperature must be between 0 and 2"},
		{"/v1/responses", `{"model":"deepseek-chat","temperature":3,"input":"hi"}`, "temperature must be between 0 and 2"},
		{"/v1/responses", `{"model":"deepseek-chat","stream":true,"temperature":3,"input":"hi"}`, "temperature must be between 0 and 2"},
		{"/v1/responses", `{"model":"deepseek-chat","stream":true,"top_p":0,"input":"hi"}`, "top_p must be greater than 0"},
		{"/v1/responses", `{"model":"deepseek-chat\u0000","input":"hi"}`, "control characters"},
		{"/v1/responses", `{"model":"` + long + `","stream":true,"input":"hi"}`, "at most 256 bytes"},
	} {
		before := len(a.audit.all())
		code, hd, body := a.do(t, "POST", c.path, keyAdmin, c.body)
		if code != 400 || hd.Get("Content-Type") != "application/json" || !strings.Contains(string(body), c.want) {
			t.Errorf("%s %.90s: %d %s %s, want a 400 naming %q", c.path, c.body, code, hd.Get("Content-Type"), body, c.want)
			continue
		}
		var shape map[string]any
		if err := json.Unmarshal(body, &shape); err != nil {
			t.Errorf("%s: %s: %v", c.path, body, err)
			continue
		}
		e, _ := shape["error"].(map[string]any)
		if strings.HasSuffix(c.path, "/messages") {
			if shape["type"] != "error" || e["type"] != "invalid_request_error" {
				t.Errorf("%s %.90s: not Anthropic's error shape: %s", c.path, c.body, body)
			}
		} else if e["type"] != "invalid_request_error" || e["message"] == nil {
			t.Errorf("%s %.90s: not OpenAI's error shape: %s", c.path, c.body, body)
		}
		testkit.Eventually(t, 5*time.Second, "the record of "+c.path, func() bool { return len(a.audit.all()) > before })
		all := a.audit.all()
		if ev := all[len(all)-1]; ev.Principal != "k_admin" || ev.Route != "POST "+c.path || ev.Status != 400 {
			t.Errorf("%s %.90s: record %s %s %d, want the principal k_admin with status 400", c.path, c.body, ev.Principal, ev.Route, ev.Status)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("%d upstream calls for refused requests", n)
	}
}

// A follow-up (previous_response_id) is translated twice, the second time
// with the stored conversation spliced in (WithHistory): the request the
// pipeline takes is the second translation's reading. A chat-only fault
// in the follow-up is a 400 naming it, with the principal on the record;
// a valid follow-up is admitted with the model it names.
func TestHostileFollowUpReadsTheFullConversation(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{responses: storetest.OpenSQLite(t)})
	var prompt atomic.Int64
	a.backend.complete = func(_ context.Context, c *gateway.Call) (*gateway.Result, error) {
		prompt.Store(int64(c.Req.PromptChars))
		return answer(c), nil
	}
	code, _, body := a.do(t, "POST", "/v1/responses", keyAdmin, `{"model":"deepseek-chat","input":"first turn, kept"}`)
	var r struct{ ID string }
	if code != 200 || json.Unmarshal(body, &r) != nil || r.ID == "" {
		t.Fatalf("%d %s", code, body)
	}
	alone := prompt.Load()
	for _, c := range []struct {
		body, want string
		code       int
	}{
		{`{"model":"deepseek-chat","temperature":3,"input":"more","previous_response_id":"` + r.ID + `"}`, "temperature must be between 0 and 2", 400},
		{`{"model":"deepseek-chat","stream":true,"top_p":0,"input":"more","previous_response_id":"` + r.ID + `"}`, "top_p must be greater than 0", 400},
		{`{"model":"deepseek-chat\u0001","input":"more","previous_response_id":"` + r.ID + `"}`, "control characters", 400},
		{`{"model":"deepseek-chat","input":"more","previous_response_id":"` + r.ID + `"}`, `"previous_response_id":"` + r.ID + `"`, 200},
	} {
		before := len(a.audit.all())
		code, _, body := a.do(t, "POST", "/v1/responses", keyAdmin, c.body)
		if code != c.code || !strings.Contains(string(body), c.want) {
			t.Errorf("%.100s: %d %s, want %d with %q", c.body, code, body, c.code, c.want)
			continue
		}
		testkit.Eventually(t, 5*time.Second, "the follow-up's record", func() bool { return len(a.audit.all()) > before })
		all := a.audit.all()
		if principal := all[len(all)-1].Principal; principal != "k_admin" {
			t.Errorf("%.100s: record principal %q", c.body, principal)
		}
	}
	if got := prompt.Load(); got <= alone {
		t.Errorf("the follow-up's PromptChars %d do not count the stored turn (first turn alone: %d)", got, alone)
	}
}

// A tool schema (Messages input_schema, Responses parameters) sits one
// level deeper in the chat body than in the client's body: a client body
// nested to encoding/json's limit (10000 levels) is valid, its chat
// translation (10001 levels) is not, and the pipeline takes the
// translator's reading instead of parsing it. It was admitted and the
// backend got a body encoding/json rejects; it is refused with a 400 now
// (jsonenc.NestsWithin in the translators).
func TestHostileNestingLimitReachesTheBackend(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{})
	var invalid atomic.Int64
	a.backend.complete = func(_ context.Context, c *gateway.Call) (*gateway.Result, error) {
		if !json.Valid(c.Body) {
			invalid.Add(1)
		}
		return answer(c), nil
	}
	const n = 9997 // the schema's first object is level 4: n+3 = 10000 levels
	schema := strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
	for _, c := range []struct{ path, body string }{
		{"/v1/messages", `{"model":"deepseek-chat","max_tokens":8,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":` + schema + `}]}`},
		{"/v1/responses", `{"model":"deepseek-chat","input":"hi","tools":[{"type":"function","name":"f","parameters":` + schema + `}]}`},
	} {
		if !json.Valid([]byte(c.body)) {
			t.Fatalf("%s: the client body is not valid JSON: the test is wrong", c.path)
		}
		code, _, body := a.do(t, "POST", c.path, keyAdmin, c.body)
		if code != 400 || !strings.Contains(string(body), "nested too deeply") {
			t.Errorf("%s: %d %.200s, want a 400 naming the nesting", c.path, code, body)
		}
	}
	if n := invalid.Load(); n > 0 {
		t.Errorf("the backend got %d chat bodies that are not valid JSON (nested 10001 levels)", n)
	}
}
