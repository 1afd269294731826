package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

// Issue 22: with more clients than file descriptors the gateway failed
// accepts and dials (887,890 fast failures at 10,000 streams). Past
// server.max_connections it now refuses clearly: 503 with Retry-After in
// the OpenAI error shape, the connection closed, the refusal counted; and
// it serves again as soon as a stream ends.
func TestMaxConnectionsRefusesWith503(t *testing.T) {
	t.Parallel()
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0", max_connections: 2}
log: {access: false}
upstreams:
  - {name: a, kind: openai, url: "$a"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
`, map[string]sim.Options{"a": {TokensPerSecond: 20}})

	// Two slow streams hold the two places.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams := make([]*http.Response, 2)
	for i := range streams {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.base+"/v1/chat/completions",
			strings.NewReader(`{"model":"deepseek-chat","stream":true,"max_tokens":1000,"messages":[{"role":"user","content":"long"}]}`))
		resp, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(req) // a connection of its own
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("stream %d: status %d", i, resp.StatusCode)
		}
		if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		streams[i] = resp
	}

	// A third client is refused at once, in the error shape.
	resp, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(mustRequest(t, e.base+"/v1/chat/completions", chatBody))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got struct {
		Error struct{ Message, Type, Code string }
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!resp.Close || json.Unmarshal(body, &got) != nil || got.Error.Code != "server_overloaded" || got.Error.Message == "" {
		t.Fatalf("over the limit: %d, Retry-After %q, close %v, body %s", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close, body)
	}
	// The health probes still answer.
	hz, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(mustGet(t, e.base+"/healthz"))
	if err != nil {
		t.Fatal(err)
	}
	hz.Body.Close()
	if hz.StatusCode != 200 {
		t.Fatalf("healthz under load: %d", hz.StatusCode)
	}

	// The metrics still answer, and count the refusal.
	m, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(mustGet(t, e.base+"/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(m.Body)
	m.Body.Close()
	if m.StatusCode != 200 || !strings.Contains(string(text), `dsgate_ratelimit_rejections_total{limit="capacity"} 1`) {
		t.Errorf("refusal not counted (%d):\n%s", m.StatusCode, grepLines(string(text), "rejections"))
	}

	// When the streams end, requests are served again.
	cancel()
	testkit.Eventually(t, 10*time.Second, "a request served after the streams ended", func() bool {
		resp, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(mustRequest(t, e.base+"/v1/chat/completions", chatBody))
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

func mustRequest(t *testing.T, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

func grepLines(text, word string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func mustGet(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
