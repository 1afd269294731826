package server_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/sim"
)

// Parity of the three client APIs: the same conversation sent as a chat
// completion, an Anthropic Messages request and a Responses request,
// streamed and not, gets the same headers and the same record.

// apiRequest is one conversation in one API.
type apiRequest struct{ api, path, body string }

// sameConversation is text asked with max 4 tokens through each API;
// extra is inserted in each body (JSON members ending with a comma), per
// API: chat, messages, responses.
func sameConversation(model, text string, stream bool, extra ...string) []apiRequest {
	if len(extra) == 0 {
		extra = []string{"", "", ""}
	}
	s := ""
	if stream {
		s = `"stream":true,`
	}
	msg := `"messages":[{"role":"user","content":"` + text + `"}]`
	return []apiRequest{
		{"chat", "/v1/chat/completions", `{"model":"` + model + `",` + s + extra[0] + msg + `,"max_tokens":4}`},
		{"messages", "/v1/messages", `{"model":"` + model + `",` + s + extra[1] + `"max_tokens":4,` + msg + `}`},
		{"responses", "/v1/responses", `{"model":"` + model + `",` + s + extra[2] + `"max_output_tokens":4,"store":false,"input":"` + text + `"}`},
	}
}

// deterministic makes a request cacheable in each API.
var deterministic = []string{
	`"temperature":0,"thinking":{"type":"disabled"},`,
	`"temperature":0,"thinking":{"type":"disabled"},`,
	`"temperature":0,"reasoning":{"effort":"none"},`,
}

// send posts r (with request id id when set) and returns the answer.
func (e *env) send(t *testing.T, r apiRequest, id string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.base+r.path, strings.NewReader(r.body))
	req.Header.Set("Content-Type", "application/json")
	if id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", r.path, r.body, resp.StatusCode, b)
	}
	return resp, b
}

func streamed(b bool) string {
	if b {
		return "streamed"
	}
	return "not streamed"
}

// An answer given by the model's fallback_response says so with
// X-Dsgate-Fallback whether or not it is streamed, through every API (the
// streamed ones said nothing: no upstream header, no fallback header).
func TestAPIParityStreamedFallbackHeader(t *testing.T) {
	t.Parallel()
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
upstreams:
  - {name: down, kind: openai, url: "$down"}
models:
  - {name: m, targets: [{upstream: down}], fallback_response: "The assistant is unavailable."}
`, map[string]sim.Options{"down": {Models: []string{"m"}, Faults: sim.Faults{ErrorRate: 1, ErrorStatus: 503}}})
	for _, stream := range []bool{false, true} {
		for _, r := range sameConversation("m", "hello", stream) {
			resp, body := e.send(t, r, "")
			if !strings.Contains(string(body), "The assistant is unavailable.") {
				t.Fatalf("%s %s: not the fallback answer: %s", r.api, streamed(stream), body)
			}
			if got := resp.Header.Get("X-Dsgate-Fallback"); got != "true" {
				t.Errorf("%s %s fallback answer: X-Dsgate-Fallback %q, want true", r.api, streamed(stream), got)
			}
		}
	}
}

// A stream whose upstream sends keep-alive comments before its first token
// (DeepSeek does while a request is queued) still names the upstream: the
// comment must not commit the headers without X-Dsgate-Upstream, which the
// same answer not streamed carries.
func TestAPIParityUpstreamHeaderAfterKeepAlive(t *testing.T) {
	t.Parallel()
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
upstreams:
  - {name: engine-a, kind: openai, url: "$a"}
models:
  - {name: m, targets: [{upstream: engine-a}]}
`, map[string]sim.Options{"a": {Models: []string{"m"}, TTFT: 150 * time.Millisecond, KeepAliveEvery: 10 * time.Millisecond}})
	for _, stream := range []bool{false, true} {
		for _, r := range sameConversation("m", "hello", stream) {
			resp, _ := e.send(t, r, "")
			if got := resp.Header.Get("X-Dsgate-Upstream"); got != "engine-a" {
				t.Errorf("%s %s after keep-alives: X-Dsgate-Upstream %q, want engine-a", r.api, streamed(stream), got)
			}
		}
	}
}

// The audit record of a streamed answer keeps what its client received,
// through every API, whether it came from the upstream or from the cache:
// the digest of the events sent, never the cached chat completion, which
// no streaming client saw (a hit recorded it, and its digest, for chat
// completions too).
func TestAPIParityAuditOutputOfStreamHit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
cache: {enabled: true}
audit: {enabled: true, dir: "`+dir+`", include_bodies: true}
upstreams:
  - {name: engine-a, kind: openai, url: "$a"}
models:
  - {name: m, targets: [{upstream: engine-a}]}
`, map[string]sim.Options{"a": {Models: []string{"m"}}})
	digests := map[string]string{} // request id -> digest of the data sent
	for _, r := range sameConversation("m", "audit me", true, deterministic...) {
		r.body = strings.Replace(r.body, "audit me", "audit me through "+r.api, 1) // the APIs share cache entries
		for _, id := range []string{r.api + "-miss", r.api + "-hit"} {
			resp, body := e.send(t, r, id)
			if want := strings.TrimPrefix(id, r.api+"-"); resp.Header.Get("X-Dsgate-Cache") != want {
				t.Fatalf("%s: X-Dsgate-Cache %q", id, resp.Header.Get("X-Dsgate-Cache"))
			}
			digests[id] = eventDigest(body)
		}
	}
	e.stop()
	<-e.done
	e.done <- nil
	seen := 0
	for _, ev := range readAuditAll(t, dir) {
		want, ok := digests[ev.RequestID]
		if !ok {
			continue
		}
		seen++
		switch {
		case strings.Contains(ev.Output, `"object":"chat.completion"`):
			t.Errorf("%s (%s): the record's output is the cached chat completion, not the %s answer sent: %.120s",
				ev.RequestID, ev.Route, ev.Route, ev.Output)
		case ev.Output == "" && ev.OutputSHA256 != want:
			t.Errorf("%s: output_sha256 %s is not the digest of the events sent (%s)", ev.RequestID, ev.OutputSHA256, want)
		}
	}
	if seen != len(digests) {
		t.Fatalf("%d records of %d requests", seen, len(digests))
	}
}

// eventDigest is the audit digest of a stream as sent: the SHA-256 of
// every data payload, each followed by a newline.
func eventDigest(body []byte) string {
	h := sha256.New()
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if p, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: ")); ok {
			h.Write(p)
			h.Write([]byte{'\n'})
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// A model outside the caller's team allow-list is refused by every route
// that names a model, as the chat, Messages and Responses calls refuse it:
// count_tokens and the model list checked the key's own allow-list only,
// so they answered for (and listed) any model of the gateway.
func TestAPIParityTeamAllowListOnEveryModelRoute(t *testing.T) {
	t.Parallel()
	e := startAuth(t, "")
	var k struct{ ID, Key string }
	resp, b := e.do(t, "POST", "/admin/keys", e.adminKey, `{"name":"member","role":"developer"}`)
	if resp.StatusCode != 201 || json.Unmarshal(b, &k) != nil || k.Key == "" {
		t.Fatalf("create key: %d %s", resp.StatusCode, b)
	}
	for _, c := range []struct{ path, body string }{
		{"/admin/teams/research", `{"models":["deepseek-chat"]}`},
		{"/admin/teams/research/members/key/" + k.ID, ``},
	} {
		if resp, b := e.do(t, "PUT", c.path, e.adminKey, c.body); resp.StatusCode != 200 {
			t.Fatalf("PUT %s: %d %s", c.path, resp.StatusCode, b)
		}
	}
	for _, r := range sameConversation("deepseek-reasoner", "hello", false) {
		if resp, b := e.do(t, "POST", r.path, k.Key, r.body); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s outside the team's models: %d %s", r.api, resp.StatusCode, b)
		}
	}
	body := `{"model":"deepseek-reasoner","messages":[{"role":"user","content":"hello"}]}`
	resp, b = e.do(t, "POST", "/v1/messages/count_tokens", k.Key, body)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("count_tokens outside the team's models: %d %s; /v1/messages answers 403", resp.StatusCode, b)
	}
	if resp, b := e.do(t, "POST", "/v1/messages/count_tokens", k.Key, strings.Replace(body, "deepseek-reasoner", "deepseek-chat", 1)); resp.StatusCode != 200 {
		t.Errorf("count_tokens for the team's model: %d %s", resp.StatusCode, b)
	}
	// A model no route serves is 404 as for /v1/messages (count_tokens
	// estimated its tokens).
	if resp, b := e.do(t, "POST", "/v1/messages/count_tokens", e.adminKey, strings.Replace(body, "deepseek-reasoner", "no-such-model", 1)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("count_tokens for a model nobody serves: %d %s; /v1/messages answers 404", resp.StatusCode, b)
	}
	// The model list shows the member what it may use: the team's models
	// only (it listed every model the key's own list allowed).
	resp, b = e.do(t, "GET", "/v1/models", k.Key, "")
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"deepseek-chat"`) || strings.Contains(string(b), `"deepseek-reasoner"`) {
		t.Errorf("GET /v1/models for a member of a team limited to deepseek-chat: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do(t, "GET", "/v1/models/deepseek-reasoner", k.Key, ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /v1/models/deepseek-reasoner outside the team's models: %d %s", resp.StatusCode, b)
	}
}
