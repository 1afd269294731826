package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/dsgate/dsgate/internal/sim"
)

// Issue 13 item 5 through the real server: a model name that is not UTF-8
// gets one well-formed error (before: two concatenated JSON objects), and
// the request is audited (before: no record).
func TestNonUTF8ModelNameIsOneErrorAndAudited(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
audit: {enabled: true, dir: "`+dir+`"}
upstreams:
  - {name: a, kind: openai, url: "$a"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
`, map[string]sim.Options{"a": {}})
	resp, body := e.post(t, "/v1/chat/completions", "{\"model\":\"deepseek-\xff\xfe\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
	if resp.StatusCode < 400 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var v map[string]any
	if err := dec.Decode(&v); err != nil || v["error"] == nil {
		t.Fatalf("not an error object: %q", body)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("more than one JSON object: %q", body)
	}
	e.stop()
	<-e.done
	e.done <- nil
	if _, ok := readAudit(t, dir)["POST /v1/chat/completions"]; !ok {
		t.Error("the request left no audit record")
	}
}
