package server_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

const twoSims = `
version: 1
server: {listen: "127.0.0.1:0", shutdown_grace: 5s}
log: {access: false}
upstreams:
  - {name: bad, kind: openai, url: "$bad", first_token_timeout: 2s, idle_timeout: 300ms}
  - {name: good, kind: openai, url: "$good", first_token_timeout: 2s, idle_timeout: 300ms}
models:
  - {name: deepseek-chat, targets: [{upstream: bad}, {upstream: good}]}
`

const chatBody = `{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":4}`
const streamBody = `{"model":"deepseek-chat","stream":true,"messages":[{"role":"user","content":"hi"}],"max_tokens":6}`

func TestFailoverNonStreaming(t *testing.T) {
	t.Parallel()
	for _, status := range []int{500, 503, 429} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			e := start(t, twoSims, map[string]sim.Options{
				"bad":  {Faults: sim.Faults{ErrorRate: 1, ErrorStatus: status}},
				"good": {},
			})
			for i := 0; i < 20; i++ {
				resp, body := e.post(t, "/v1/chat/completions", chatBody)
				if resp.StatusCode != 200 {
					t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
				}
			}
			if e.sims["bad"].Stats().Requests == 0 {
				t.Error("the failing upstream was never tried; the test proves nothing")
			}
		})
	}
}

func TestFailoverStreamingBeforeFirstByte(t *testing.T) {
	t.Parallel()
	e := start(t, twoSims, map[string]sim.Options{
		"bad":  {Faults: sim.Faults{ErrorRate: 1, ErrorStatus: 503}},
		"good": {},
	})
	for i := 0; i < 10; i++ {
		resp, body := e.post(t, "/v1/chat/completions", streamBody)
		if resp.StatusCode != 200 || !bytes.HasSuffix(body, []byte("data: [DONE]\n\n")) || bytes.Contains(body, []byte(`"error"`)) {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
}

func TestAllUpstreamsFail(t *testing.T) {
	t.Parallel()
	e := start(t, twoSims, map[string]sim.Options{
		"bad":  {Faults: sim.Faults{ErrorRate: 1, ErrorStatus: 500}},
		"good": {Faults: sim.Faults{ErrorRate: 1, ErrorStatus: 500}},
	})
	resp, body := e.post(t, "/v1/chat/completions", chatBody)
	if resp.StatusCode != 503 || !strings.Contains(string(body), "all upstreams failed") ||
		!strings.Contains(string(body), "via bad: HTTP 500") || !strings.Contains(string(body), "via good: HTTP 500") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if strings.Contains(string(body), "127.0.0.1") {
		t.Errorf("internal address leaked: %s", body)
	}
}

func TestUpstreamClientErrorIsNotRetried(t *testing.T) {
	t.Parallel()
	e := start(t, twoSims, map[string]sim.Options{
		"bad":  {Faults: sim.Faults{ErrorRate: 1, ErrorStatus: 400}},
		"good": {Faults: sim.Faults{ErrorRate: 1, ErrorStatus: 400}},
	})
	resp, body := e.post(t, "/v1/chat/completions", chatBody)
	if resp.StatusCode != 400 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if n := e.sims["bad"].Stats().Requests + e.sims["good"].Stats().Requests; n != 1 {
		t.Errorf("a 400 was sent to %d upstreams; it says the request is bad, not the upstream", n)
	}
}

func TestMidStreamCutEndsWithErrorEvent(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {Faults: sim.Faults{CutAfterChunks: 2}}})
	resp, body := e.post(t, "/v1/chat/completions", streamBody)
	if resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
	events := sseData(body)
	last := events[len(events)-1]
	if !strings.HasPrefix(last, `{"error":`) || bytes.Contains(body, []byte("data: [DONE]")) {
		t.Fatalf("want a final error event and no [DONE]; got:\n%s", body)
	}
	// The SDK must raise on it.
	stream := e.cl().Chat.Completions.NewStreaming(context.Background(), newChatParams("deepseek-chat", "hi"))
	for stream.Next() {
	}
	if stream.Err() == nil {
		t.Error("SDK saw no error for a cut stream")
	}
}

func TestStalledStreamIsCutWithinIdleTimeout(t *testing.T) {
	t.Parallel()
	e := start(t, twoSims, map[string]sim.Options{
		"bad":  {Faults: sim.Faults{StallAfterChunks: 2}},
		"good": {Faults: sim.Faults{StallAfterChunks: 2}},
	})
	begin := time.Now()
	resp, body := e.post(t, "/v1/chat/completions", streamBody)
	took := time.Since(begin)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "stalled") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if took > 2*time.Second {
		t.Errorf("stall cut after %v; idle timeout is 300ms", took)
	}
	testkit.Eventually(t, 2*time.Second, "the stalled upstream request to be cancelled", func() bool {
		return e.sims["bad"].Stats().Running+e.sims["good"].Stats().Running == 0
	})
}

func TestReasoningFieldNormalised(t *testing.T) {
	t.Parallel()
	cfg := `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
upstreams:
  - {name: vllm, kind: openai, url: "$vllm", reasoning_field: reasoning}
models:
  - {name: deepseek-reasoner, targets: [{upstream: vllm}]}
`
	e := start(t, cfg, map[string]sim.Options{"vllm": {ReasoningField: "reasoning"}})
	for _, body := range []string{
		`{"model":"deepseek-reasoner","messages":[{"role":"user","content":"hi"}],"max_tokens":6}`,
		`{"model":"deepseek-reasoner","stream":true,"messages":[{"role":"user","content":"hi"}],"max_tokens":6}`,
	} {
		resp, out := e.post(t, "/v1/chat/completions", body)
		if resp.StatusCode != 200 || !strings.Contains(string(out), `"reasoning_content":"`) || strings.Contains(string(out), `"reasoning":`) {
			t.Errorf("%d %s", resp.StatusCode, out)
		}
	}
}

func TestGracefulShutdownFinishesStreams(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {TokensPerSecond: 50}})
	req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions",
		strings.NewReader(`{"model":"deepseek-chat","stream":true,"max_tokens":20,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	e.stop() // SIGTERM equivalent
	rest, err := io.ReadAll(br)
	if err != nil || !bytes.HasSuffix(rest, []byte("data: [DONE]\n\n")) {
		t.Fatalf("in-flight stream cut by shutdown: err %v\n%s", err, rest)
	}
	if err := <-e.done; err != nil {
		t.Errorf("Run: %v", err)
	}
	e.done <- nil // for the cleanup
	if _, err := http.Get(e.base + "/healthz"); err == nil {
		t.Error("still accepting connections after shutdown")
	}
}

func TestReloadSwapsConfigWithoutDroppingStreams(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {TokensPerSecond: 50}})
	req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions",
		strings.NewReader(`{"model":"deepseek-chat","stream":true,"max_tokens":15,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()

	// The new config serves one more model through an in-process simulator
	// (its server section is unchanged: that would need a restart).
	next, err := config.Parse(strings.NewReader(`
version: 1
server: {listen: "127.0.0.1:0", shutdown_grace: 5s, max_body_bytes: 65536}
log: {access: false}
upstreams:
  - {name: s, kind: sim}
models:
  - {name: brand-new, targets: [{upstream: s, model: deepseek-chat}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(next); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.HasSuffix(rest, []byte("data: [DONE]\n\n")) {
		t.Fatalf("stream in flight during reload broke: %v\n%s", err, rest)
	}
	r, body := e.post(t, "/v1/chat/completions", `{"model":"brand-new","messages":[{"role":"user","content":"x"}]}`)
	if r.StatusCode != 200 {
		t.Fatalf("new model after reload: %d %s", r.StatusCode, body)
	}
	r, _ = e.post(t, "/v1/chat/completions", chatBody)
	if r.StatusCode != 404 {
		t.Errorf("old model after reload: %d", r.StatusCode)
	}
}

func TestConcurrentMixedTraffic(t *testing.T) {
	t.Parallel()
	e := start(t, oneSim, map[string]sim.Options{"a": {}})
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := chatBody
			if i%2 == 0 {
				body = streamBody
			}
			resp, err := http.Post(e.base+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- string(b)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func sseData(body []byte) []string {
	var out []string
	for _, line := range strings.Split(string(body), "\n") {
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			out = append(out, d)
		}
	}
	return out
}
