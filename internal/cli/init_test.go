package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cliProc is a dsgate command running in this process.
type cliProc struct {
	out, err lockedBuffer
	done     chan int
	cancel   context.CancelFunc
}

// startCLI runs a long-lived dsgate command (serve, sim) in the background
// and stops it when the test ends.
func startCLI(t *testing.T, args ...string) *cliProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &cliProc{done: make(chan int, 1), cancel: cancel}
	go func() { p.done <- Run(ctx, args, &p.out, &p.err) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			t.Errorf("%v did not stop", args)
		}
	})
	return p
}

// simAddr waits for a simulator's listen address in its log.
func (p *cliProc) simAddr(t *testing.T) string {
	t.Helper()
	re := regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(p.err.String()); m != nil {
			return m[1]
		}
		select {
		case code := <-p.done:
			t.Fatalf("sim exited with %d: %s", code, p.err.String())
		default:
		}
	}
	t.Fatalf("no listen address in %q", p.err.String())
	return ""
}

// waitReady waits for GET base/readyz to answer 200.
func (p *cliProc) waitReady(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case code := <-p.done:
			t.Fatalf("serve exited with %d:\n%s", code, p.err.String())
		default:
		}
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatalf("%s/readyz never answered 200:\n%s", base, p.err.String())
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// chat posts a chat request with key (none when empty).
func chat(t *testing.T, base, key, model string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/chat/completions",
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hello"}]}`))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var initKeyRe = regexp.MustCompile(`(?m)^\s+(dsg_\S+)$`)

// Issue 21: `dsgate init` in every mode writes a config that passes
// `dsgate config check`, a 0600 key file it references, and an admin key
// that a gateway started from the config accepts; without a key the
// gateway answers 401.
func TestInitEveryModeServesTheFirstKey(t *testing.T) {
	for _, mode := range []string{initOffline, initCloud, initLocal, initBoth} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			args := []string{"init", "--non-interactive", "--mode", mode}
			switch mode {
			case initCloud, initBoth:
				// DeepSeek's cloud is the strict double.
				ds := startCLI(t, "sim", "--personality", "deepseek", "--listen", "127.0.0.1:0", "--api-key", "sk-init")
				t.Setenv("DEEPSEEK_BASE_URL", "http://"+ds.simAddr(t))
				t.Setenv("DEEPSEEK_API_KEY", "sk-init")
			}
			if mode == initLocal || mode == initBoth {
				eng := startCLI(t, "sim", "--listen", "127.0.0.1:0", "--models", "deepseek-flash,deepseek-v4-flash,deepseek-v4-pro")
				args = append(args, "--engine-url", "vllm=http://"+eng.simAddr(t)+"/v1")
			}
			listen := freeAddr(t)
			args = append(args, "--listen", listen)
			out, stderr, code := run(t, args...)
			if code != 0 {
				t.Fatalf("init: %d\n%s%s", code, out, stderr)
			}
			m := initKeyRe.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no key printed:\n%s", out)
			}
			for _, want := range []string{"serve --config dsgate.yaml", "keys create --config dsgate.yaml", "Authorization: Bearer " + m[1]} {
				if !strings.Contains(out, want) {
					t.Errorf("next commands lack %q:\n%s", want, out)
				}
			}
			st, err := os.Stat(filepath.Join(dir, "dsgate-data", initKeyName))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Fatalf("key file: %v %v", st, err)
			}
			cfg, _ := os.ReadFile(filepath.Join(dir, "dsgate.yaml"))
			for _, want := range []string{"enabled: true", "file:dsgate-data/" + initKeyName, "deepseek-v4-pro", "deepseek-reasoner"} {
				if !strings.Contains(string(cfg), want) {
					t.Errorf("config lacks %q:\n%s", want, cfg)
				}
			}
			if out, stderr, code := run(t, "config", "check", "dsgate.yaml"); code != 0 || strings.Contains(stderr, "warning") {
				t.Fatalf("config check: %d %s %s", code, out, stderr)
			}
			gw := startCLI(t, "serve", "--config", "dsgate.yaml")
			base := "http://" + listen
			gw.waitReady(t, base)
			if code, body := chat(t, base, "", "deepseek-v4-flash"); code != http.StatusUnauthorized {
				t.Errorf("without a key: %d %s", code, body)
			}
			for _, model := range []string{"deepseek-v4-flash", "deepseek-v4-pro", "deepseek-reasoner"} {
				if code, body := chat(t, base, m[1], model); code != http.StatusOK || !strings.Contains(body, `"choices"`) {
					t.Errorf("%s with the printed key: %d %s", model, code, body)
				}
			}
		})
	}
}

// Issue 21: running init twice never overwrites without --force; --force
// keeps the encryption key (the store's signing keys depend on it) and
// the first key stays valid.
func TestInitNeverOverwritesWithoutForce(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "gw")
	if _, stderr, code := run(t, "init", "--non-interactive", "--dir", sub); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	cfgPath := filepath.Join(sub, "dsgate.yaml")
	keyPath := filepath.Join(sub, "dsgate-data", initKeyName)
	before, _ := os.ReadFile(keyPath)
	os.WriteFile(cfgPath, []byte("# edited by hand\n"), 0o600)

	_, stderr, code := run(t, "init", "--non-interactive", "--dir", sub)
	if code == 0 || !strings.Contains(stderr, "--force") {
		t.Fatalf("second init: %d %s", code, stderr)
	}
	if b, _ := os.ReadFile(cfgPath); string(b) != "# edited by hand\n" {
		t.Fatal("the config was overwritten without --force")
	}
	// At the prompt, anything but yes keeps the file.
	var outb, errb strings.Builder
	cmd := newRootCmd()
	cmd.SetArgs([]string{"init", "--dir", sub, "--mode", "offline"})
	cmd.SetIn(strings.NewReader("n\n"))
	cmd.SetOut(&outb)
	cmd.SetErr(&errb)
	if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(outb.String(), "Overwrite") {
		t.Fatalf("prompted init: %v %s", err, outb.String())
	}
	if b, _ := os.ReadFile(cfgPath); string(b) != "# edited by hand\n" {
		t.Fatal("the config was overwritten after a no")
	}

	out, stderr, code := run(t, "init", "--non-interactive", "--dir", sub, "--force")
	if code != 0 {
		t.Fatalf("init --force: %d %s", code, stderr)
	}
	if after, _ := os.ReadFile(keyPath); string(after) != string(before) {
		t.Error("--force replaced the encryption key")
	}
	// With --dir the paths are absolute, so the config works from anywhere.
	if out, stderr, code := run(t, "config", "check", cfgPath); code != 0 {
		t.Fatalf("config check from elsewhere: %d %s %s", code, out, stderr)
	}
	if !strings.Contains(out, "cd "+sub+" && dsgate serve") {
		t.Errorf("next commands do not cd into --dir:\n%s", out)
	}
	list, _, _ := run(t, "keys", "list", "--config", cfgPath)
	if n := strings.Count(list, " admin "); n != 2 {
		t.Errorf("want two admin keys after two inits, got %d:\n%s", n, list)
	}
}

// Interactive init reads the mode and engine URLs from the prompts.
func TestInitInteractive(t *testing.T) {
	dir := t.TempDir()
	var outb, errb strings.Builder
	cmd := newRootCmd()
	cmd.SetArgs([]string{"init", "--dir", dir})
	cmd.SetIn(strings.NewReader("local\nollama=http://127.0.0.1:11434/v1, sglang=\n"))
	cmd.SetOut(&outb)
	cmd.SetErr(&errb)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("init: %v\n%s%s", err, outb.String(), errb.String())
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "dsgate.yaml"))
	for _, want := range []string{
		"url: http://127.0.0.1:11434\n", "thinking_switch: ollama",
		"url: http://127.0.0.1:30000\n", "thinking_switch: template_thinking",
		"{upstream: sglang, model: deepseek-v4-pro}",
	} {
		if !strings.Contains(string(cfg), want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(string(cfg), "kind: deepseek") || strings.Contains(string(cfg), "kind: sim") {
		t.Errorf("local mode has a cloud or simulator upstream:\n%s", cfg)
	}
	if _, _, code := run(t, "init", "--non-interactive", "--dir", t.TempDir(), "--mode", "local", "--engine-url", "tgi=http://x"); code == 0 {
		t.Error("an unknown engine was accepted")
	}
}

// Issue 21: a second instance in the same directory fails with a message
// saying one is already running and naming its lock, not "audit: audit:
// ... spool is locked by another writer".
func TestSecondInstanceNamesTheRunningOne(t *testing.T) {
	t.Chdir(t.TempDir())
	listen := freeAddr(t)
	if _, stderr, code := run(t, "init", "--non-interactive", "--listen", listen); code != 0 {
		t.Fatalf("init: %d %s", code, stderr)
	}
	first := startCLI(t, "serve", "--config", "dsgate.yaml")
	first.waitReady(t, "http://"+listen)
	_, stderr, code := run(t, "serve", "--config", "dsgate.yaml")
	lock := filepath.Join("dsgate-data", "audit", "spool", "LOCK")
	if code == 0 || !strings.Contains(stderr, "already running") || !strings.Contains(stderr, lock) ||
		!strings.Contains(stderr, fmt.Sprintf("pid %d", os.Getpid())) || strings.Contains(stderr, "audit: audit:") {
		t.Fatalf("second serve: code %d\n%s", code, stderr)
	}
}
