package server_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/sim"
)

func TestMetricsAndAudit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
audit: {enabled: true, dir: "` + dir + `"}
upstreams:
  - {name: good, kind: openai, url: "$good"}
  - {name: bad, kind: openai, url: "$bad"}
models:
  - {name: deepseek-chat, targets: [{upstream: good}]}
  - {name: flaky, targets: [{upstream: bad}, {upstream: good}]}
`
	e := start(t, cfg, map[string]sim.Options{
		"good": {},
		"bad":  {Models: []string{"flaky"}, Faults: sim.Faults{ErrorRate: 1, ErrorStatus: 503}},
	})
	bodies := []string{
		chatBody,
		streamBody,
		`{"model":"flaky","messages":[{"role":"user","content":"x"}]}`,
		`{"model":"nope","messages":[{"role":"user","content":"x"}]}`,
	}
	for _, b := range bodies {
		e.post(t, "/v1/chat/completions", b)
	}
	resp, err := http.Get(e.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`http_request_duration_seconds_count{method="POST",route="POST /v1/chat/completions",status="200"}`,
		`dsgate_requests_total{model="deepseek-chat",route="POST /v1/chat/completions",status="200"} 2`,
		`dsgate_requests_total{model="unknown",route="POST /v1/chat/completions",status="404"} 1`,
		`dsgate_tokens_total{kind="completion",model="deepseek-chat"}`,
		`dsgate_upstream_requests_total{outcome="failure",upstream="bad"}`,
		`dsgate_upstream_healthy{upstream="good"} 1`,
		`dsgate_upstream_breaker_state{upstream="good"} 0`,
		`dsgate_time_to_first_token_seconds_count{model="deepseek-chat",upstream="good"} 1`,
		`dsgate_in_flight_requests`,
		`go_goroutines`,
	} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if bytes.Contains(page, []byte("request_id")) {
		t.Error("unbounded label in metrics")
	}

	// The audit trail: one record per request, a valid chain.
	e.stop()
	<-e.done
	e.done <- nil
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no audit file")
	}
	rep, err := audit.VerifyFiles(files, audit.VerifyOptions{})
	if err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	if rep.Records < len(bodies)+1 {
		t.Errorf("records = %d, want at least %d", rep.Records, len(bodies)+1)
	}
	raw, _ := os.ReadFile(files[len(files)-1])
	if !bytes.Contains(raw, []byte(`"input_sha256":"`)) || bytes.Contains(raw, []byte(`"content":"hi"`)) {
		t.Errorf("audit must hash, not store, prompts by default")
	}
}
