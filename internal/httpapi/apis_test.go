package httpapi_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/store/storetest"
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
