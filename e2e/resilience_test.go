package e2e

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
)

const threeTargets = `  - name: deepseek-chat
    targets: [{upstream: s1}, {upstream: s2}, {upstream: s3}]
`

// With one upstream answering 500 to everything, one stalling every
// stream and one healthy, no non-streaming request fails.
func TestNonStreamingSurvivesFaultyUpstreams(t *testing.T) {
	s1 := startSim(t, "s1", 0, "--error-rate", "1", "--error-status", "500")
	s2 := startSim(t, "s2", 0, "--stall-after", "2")
	s3 := startSim(t, "s3", 0)
	g := startGateway(t, "", []*simulator{s1, s2, s3}, threeTargets)
	c := newClient()

	var failed atomic.Int64
	var firstErr sync.Once
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				code, body := post(c, g.base+"/v1/chat/completions", chatBody("deepseek-chat", false))
				if code != 200 || !strings.Contains(body, `"chat.completion"`) {
					failed.Add(1)
					firstErr.Do(func() { t.Errorf("request failed: %d %s", code, body) })
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of 200 non-streaming requests failed", n)
	}
	st := g.upstream(t, "s1")
	if st.LastError == "" {
		t.Error("s1 (error-rate 1) shows no last error: it was never tried and the test proves nothing")
	}
	t.Logf("s1 after the run: breaker %s, last error %q", st.Breaker, st.LastError)
}

// A stream whose upstream stalls after two chunks ends with an error event
// (and no [DONE]) within the idle timeout plus slack.
func TestStalledStreamEndsWithErrorEvent(t *testing.T) {
	stall := startSim(t, "stall", 0, "--stall-after", "2")
	g := startGateway(t, "", []*simulator{stall}, `  - name: deepseek-chat
    targets: [{upstream: stall}]
`)
	c := newClient()
	const idle = 500 * time.Millisecond
	for i := 0; i < 3; i++ {
		begin := time.Now()
		code, body := post(c, g.base+"/v1/chat/completions", chatBody("deepseek-chat", true))
		took := time.Since(begin)
		if code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
		var data []string
		for _, line := range strings.Split(body, "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				data = append(data, d)
			}
		}
		if len(data) < 2 || !strings.Contains(data[0], `"chat.completion.chunk"`) {
			t.Fatalf("want content chunks before the stall, got:\n%s", body)
		}
		last := data[len(data)-1]
		if !strings.HasPrefix(last, `{"error":`) || !strings.Contains(last, "stalled") || strings.Contains(body, "[DONE]") {
			t.Fatalf("want a final error event about the stall and no [DONE], got:\n%s", body)
		}
		if took < idle || took > idle+1500*time.Millisecond {
			t.Errorf("stream ended after %v; idle timeout is %v", took, idle)
		}
	}
}

// SIGKILL one of three upstreams under a closed-loop non-streaming load at
// concurrency 8, restart it on the same port: no request fails, and the
// admin API shows it healthy again within seconds.
func TestKilledUpstreamUnderLoad(t *testing.T) {
	s1 := startSim(t, "s1", 0)
	s2 := startSim(t, "s2", 0)
	s3 := startSim(t, "s3", 0)
	g := startGateway(t, "", []*simulator{s1, s2, s3}, threeTargets)
	c := newClient()

	var sent, failed atomic.Int64
	var mu sync.Mutex
	var samples []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sent.Add(1)
				code, body := post(c, g.base+"/v1/chat/completions", chatBody("deepseek-chat", false))
				if code != 200 {
					failed.Add(1)
					mu.Lock()
					if len(samples) < 5 {
						samples = append(samples, body)
					}
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(time.Second) // steady load before the kill
	s2.p.kill()
	killedAt := time.Now()
	testkit.Eventually(t, 5*time.Second, "the gateway to notice s2 is gone", func() bool { return !g.upstream(t, "s2").Healthy })
	t.Logf("s2 out of rotation %v after SIGKILL", time.Since(killedAt).Round(time.Millisecond))
	time.Sleep(time.Second) // load on two targets
	s2.restart(t)
	restartedAt := time.Now()
	testkit.Eventually(t, 10*time.Second, "s2 healthy with its breaker closed", func() bool {
		st := g.upstream(t, "s2")
		return st.Healthy && st.ActiveHealthy && st.Breaker == "closed"
	})
	t.Logf("s2 healthy and closed %v after restart", time.Since(restartedAt).Round(time.Millisecond))
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("%d requests, %d failed", sent.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d of %d requests failed; samples: %q", failed.Load(), sent.Load(), samples)
	}
	if sent.Load() < 100 {
		t.Errorf("only %d requests were sent; the load proves little", sent.Load())
	}
}

// The breaker opens after 5 failures (one attempt per request here) and
// closes after a successful half-open trial once the upstream is fixed.
func TestBreakerOpensAfterFiveFailuresAndCloses(t *testing.T) {
	flaky := startSim(t, "flaky", 0, "--error-rate", "1", "--error-status", "500")
	g := startGateway(t, "{max_attempts: 1}", []*simulator{flaky}, `  - name: deepseek-chat
    targets: [{upstream: flaky}]
`)
	c := newClient()
	url := g.base + "/v1/chat/completions"
	for i := 1; i <= 5; i++ {
		code, body := post(c, url, chatBody("deepseek-chat", false))
		if code < 500 || !strings.Contains(body, "HTTP 500") {
			t.Fatalf("request %d: %d %s; want the upstream's 500 reported", i, code, body)
		}
		want := "closed"
		if i == 5 {
			want = "open"
		}
		if st := g.upstream(t, "flaky"); st.Breaker != want {
			t.Fatalf("after %d failures the breaker is %s, want %s", i, st.Breaker, want)
		}
	}
	code, body := post(c, url, chatBody("deepseek-chat", false))
	if code != 503 || !strings.Contains(body, "no upstream") {
		t.Errorf("breaker open: %d %s; want 503 without trying the upstream", code, body)
	}

	flaky.restart(t) // fixed: no faults
	testkit.Eventually(t, 5*time.Second, "the breaker to allow a half-open trial", func() bool {
		st := g.upstream(t, "flaky")
		return st.Breaker == "half_open" && st.Healthy
	})
	if code, body := post(c, url, chatBody("deepseek-chat", false)); code != 200 {
		t.Fatalf("half-open trial: %d %s", code, body)
	}
	if st := g.upstream(t, "flaky"); st.Breaker != "closed" || !st.Healthy {
		t.Fatalf("after a successful trial: %+v, want breaker closed", st)
	}
	for i := 0; i < 5; i++ {
		if code, body := post(c, url, chatBody("deepseek-chat", false)); code != 200 {
			t.Fatalf("after recovery: %d %s", code, body)
		}
	}
}
