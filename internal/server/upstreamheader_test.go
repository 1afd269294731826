package server_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/sim"
)

// TestUpstreamHeader: X-Dsgate-Upstream names the upstream that answered,
// on streams too (it is known before the first event) and through every
// API, and a cache hit, which no upstream answered, carries none rather
// than an empty one.
func TestUpstreamHeader(t *testing.T) {
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
cache: {enabled: true}
upstreams:
  - {name: engine-a, kind: openai, url: "$a"}
models:
  - {name: m, targets: [{upstream: engine-a}]}
`, map[string]sim.Options{"a": {Models: []string{"m"}}})
	postTo := func(path, body string) http.Header {
		t.Helper()
		resp, err := http.Post(e.base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp.Header
	}
	post := func(body string) http.Header { return postTo("/v1/chat/completions", body) }
	msg := `"messages":[{"role":"user","content":"hello"}],"max_tokens":4`
	if h := post(`{"model":"m","stream":true,` + msg + `}`); h.Get("X-Dsgate-Upstream") != "engine-a" {
		t.Errorf("stream: X-Dsgate-Upstream = %q, want engine-a", h.Get("X-Dsgate-Upstream"))
	}
	for _, c := range []struct{ path, body string }{
		{"/v1/messages", `{"model":"m","max_tokens":4,"messages":[{"role":"user","content":"hello"}]}`},
		{"/v1/messages", `{"model":"m","max_tokens":4,"stream":true,"messages":[{"role":"user","content":"hello"}]}`},
		{"/v1/responses", `{"model":"m","max_output_tokens":4,"store":false,"input":"hello"}`},
		{"/v1/responses", `{"model":"m","max_output_tokens":4,"store":false,"stream":true,"input":"hello"}`},
	} {
		if h := postTo(c.path, c.body); h.Get("X-Dsgate-Upstream") != "engine-a" {
			t.Errorf("%s %s: X-Dsgate-Upstream = %q, want engine-a", c.path, c.body, h.Get("X-Dsgate-Upstream"))
		}
	}
	cacheable := `{"model":"m","temperature":0,"thinking":{"type":"disabled"},` + msg + `}`
	if h := post(cacheable); h.Get("X-Dsgate-Upstream") != "engine-a" {
		t.Errorf("miss: X-Dsgate-Upstream = %q, want engine-a", h.Get("X-Dsgate-Upstream"))
	}
	h := post(cacheable)
	if h.Get("X-Dsgate-Cache") != "hit" {
		t.Fatalf("second cacheable request: X-Dsgate-Cache = %q, want hit", h.Get("X-Dsgate-Cache"))
	}
	if v, ok := h["X-Dsgate-Upstream"]; ok {
		t.Errorf("cache hit carries X-Dsgate-Upstream %q; want none", v)
	}
}
