package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
)

// served is what the clients of one key received: requests (or batch
// items) answered 200 and their tokens.
type served struct {
	mu                                 sync.Mutex
	requests, prompt, completion, hits int64
}

func (s *served) add(u chatUsage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	s.prompt += u.PromptTokens
	s.completion += u.CompletionTokens
	s.hits += u.PromptCacheHitTokens
}

type chatUsage struct {
	PromptTokens         int64 `json:"prompt_tokens"`
	CompletionTokens     int64 `json:"completion_tokens"`
	PromptCacheHitTokens int64 `json:"prompt_cache_hit_tokens"`
}

// How the gateway stops in usageAfterStop.
type stopMode int

const (
	killReconcile stopMode = iota // SIGKILL, then dsgate usage reconcile
	killRestart                   // SIGKILL, then a restart replays the journal
	term                          // SIGTERM: usage is stored before exit
)

// TestUsageSurvivesSIGKILL kills the gateway with SIGKILL under load from
// two keys, one sending chat completions and one /v1/batch requests, and
// checks that the usage of each key equals exactly what its clients were
// served (every request and batch item answered 200, and their tokens):
// once after `dsgate usage reconcile`, once after a plain restart, which
// replays the journal itself.
func TestUsageSurvivesSIGKILL(t *testing.T) {
	t.Run("reconcile", func(t *testing.T) { usageAfterStop(t, killReconcile) })
	t.Run("restart", func(t *testing.T) { usageAfterStop(t, killRestart) })
}

// TestUsageStoredAtSIGTERM stops the gateway with SIGTERM under load: it
// exits 0 with all usage in the store (the journal is back to its header,
// the next start replays nothing) and equal to what was served.
func TestUsageStoredAtSIGTERM(t *testing.T) { usageAfterStop(t, term) }

func usageAfterStop(t *testing.T, mode stopMode) {
	sim := startSim(t, "sim", 0, "--ttft", "20ms")
	dir := t.TempDir()
	db := filepath.Join(dir, "dsgate.db")
	kek := filepath.Join(dir, "kek")
	if err := os.WriteFile(kek, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	adminKey, _ := cliKey(t, db, "--name", "root", "--role", "admin")
	chatKey, chatID := cliKey(t, db, "--name", "chat", "--role", "developer")
	batchKey, batchID := cliKey(t, db, "--name", "batch", "--role", "developer")
	port := testkit.FreePort(t)
	path := filepath.Join(dir, "dsgate.yaml")
	cfg := fmt.Sprintf(`version: 1
server: {listen: "127.0.0.1:%d"}
log: {access: false}
store: {dsn: %q}
auth: {enabled: true, signing_key_encryption_key: "file:%s"}
audit: {enabled: true, dir: %q, file: {path: %q}}
upstreams:
  - {name: s, kind: openai, url: %q}
models:
  - {name: deepseek-chat, targets: [{upstream: s, model: deepseek-chat}]}
`, port, db, kek, filepath.Join(dir, "audit"), filepath.Join(dir, "audit", "audit.jsonl"), sim.url())
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	gw := startProc(t, "gateway", "serve", "--config", path)
	waitProcReady(t, gw, base)

	var chat, batch served
	var stop atomic.Bool
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	for w := range 8 {
		wg.Go(func() {
			for !stop.Load() {
				var ok bool
				if w%2 == 0 {
					ok = chatOnce(client, base, chatKey, &chat)
				} else {
					ok = batchOnce(client, base, batchKey, &batch)
				}
				if !ok {
					return // the gateway is gone
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	if mode == term {
		gw.cmd.Process.Signal(syscall.SIGTERM)
		waitExit(t, gw, 10*time.Second)
		if code := gw.cmd.ProcessState.ExitCode(); code != 0 {
			t.Fatalf("exit code %d after SIGTERM", code)
		}
	} else {
		gw.kill() // SIGKILL under load
	}
	stop.Store(true)
	wg.Wait()
	journal := filepath.Join(dir, "audit", "usage", "journal")
	if fi, err := os.Stat(journal); err != nil || (mode == term && fi.Size() > 100) {
		t.Fatalf("journal after stop: %v, %v (after SIGTERM it holds its header only)", fi, err)
	}
	if chat.requests < 50 || batch.requests < 50 {
		t.Fatalf("too little load before the kill: %d chat requests, %d batch items", chat.requests, batch.requests)
	}

	if mode == killReconcile {
		out, err := exec.Command(dsgateBin, "usage", "reconcile", "--journal-only", "--config", path).CombinedOutput()
		if err != nil {
			t.Fatalf("usage reconcile: %v\n%s", err, out)
		}
		t.Logf("%s", bytes.TrimSpace(out))
	}

	gw = startProc(t, "gateway again", "serve", "--config", path)
	waitProcReady(t, gw, base)
	if replayed := strings.Contains(gw.out.Tail(20), "usage journal replayed"); replayed != (mode == killRestart) {
		t.Errorf("usage journal replayed at restart: %t\n%s", replayed, gw.out.Tail(20))
	}
	for _, k := range []struct {
		name, id string
		want     *served
	}{{"chat", chatID, &chat}, {"batch", batchID, &batch}} {
		want := usageTotal{Requests: k.want.requests,
			chatUsage: chatUsage{PromptTokens: k.want.prompt, CompletionTokens: k.want.completion, PromptCacheHitTokens: k.want.hits}}
		var got usageTotal
		// After a restart the replayed usage is stored by the first flush.
		deadline := time.Now().Add(5 * time.Second)
		for got = adminUsage(t, base, adminKey, k.id); got != want && mode == killRestart && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			got = adminUsage(t, base, adminKey, k.id)
		}
		if got != want {
			t.Errorf("%s key: usage %+v; served %+v", k.name, got, want)
		} else {
			t.Logf("%s key: %d served, %d in usage", k.name, want.Requests, got.Requests)
		}
	}
}

// chatOnce sends one chat completion; a 200 is counted as served. It
// returns false once the gateway no longer answers.
func chatOnce(c *http.Client, base, key string, s *served) bool {
	status, body := postKey(c, base+"/v1/chat/completions", key, chatBody("deepseek-chat", false))
	if status != http.StatusOK {
		return status != 0
	}
	var v struct{ Usage chatUsage }
	if json.Unmarshal(body, &v) == nil {
		s.add(v.Usage)
	}
	return true
}

// batchOnce sends a /v1/batch of five items; each item answered 200 is
// counted as served.
func batchOnce(c *http.Client, base, key string, s *served) bool {
	status, body := postKey(c, base+"/v1/batch", key,
		`{"model":"deepseek-chat","requests":[{"prompt":"a","max_tokens":4},{"prompt":"b","max_tokens":4},{"prompt":"c","max_tokens":4},{"prompt":"d","max_tokens":4},{"prompt":"e","max_tokens":4}]}`)
	if status != http.StatusOK {
		return status != 0
	}
	var v struct {
		Results []struct {
			Status   int
			Response struct{ Usage chatUsage }
		}
	}
	if json.Unmarshal(body, &v) != nil {
		return true
	}
	for _, r := range v.Results {
		if r.Status == http.StatusOK {
			s.add(r.Response.Usage)
		}
	}
	return true
}

// postKey posts body with a bearer key; a transport error or a body cut
// short is status 0.
func postKey(c *http.Client, url, key, body string) (int, []byte) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, b
}

// cliKey creates a key with `dsgate keys create` and returns it and its id.
func cliKey(t *testing.T, db string, args ...string) (key, id string) {
	t.Helper()
	out, err := exec.Command(dsgateBin, append([]string{"keys", "create", "--db", db}, args...)...).Output()
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	for line := range strings.Lines(string(out)) {
		if v, ok := strings.CutPrefix(line, "key:"); ok {
			key = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "id:"); ok {
			id = strings.TrimSpace(v)
		}
	}
	if key == "" || id == "" {
		t.Fatalf("keys create printed no key or id:\n%s", out)
	}
	return key, id
}

// usageTotal is the total of GET /admin/usage for one key.
type usageTotal struct {
	Requests int64 `json:"requests"`
	chatUsage
}

func adminUsage(t *testing.T, base, adminKey, id string) usageTotal {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/admin/usage?kind=key&id="+id, nil)
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ Total usageTotal }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("/admin/usage: %v", err)
	}
	return v.Total
}
