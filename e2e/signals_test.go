package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeSignals drives the real binary: SIGHUP reloads the config file
// without breaking a stream in flight, a bad file is refused and the old
// config keeps serving, and SIGTERM lets an in-flight stream finish before
// the process exits 0.
func TestServeSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	sim := startSim(t, "sim", 0, "--tps", "40")
	port := freePort(t)
	path := filepath.Join(t.TempDir(), "dsgate.yaml")
	config := func(models ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "version: 1\nserver: {listen: \"127.0.0.1:%d\", shutdown_grace: 10s}\nlog: {access: false}\n", port)
		fmt.Fprintf(&b, "upstreams:\n  - {name: s, kind: openai, url: %q}\nmodels:\n", sim.url())
		for _, m := range models {
			fmt.Fprintf(&b, "  - {name: %s, targets: [{upstream: s, model: deepseek-chat}]}\n", m)
		}
		return b.String()
	}
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(config("deepseek-chat"))
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	gw := startProc(t, "gateway", "serve", "--config", path)
	waitFor(t, 10*time.Second, "readyz", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	hasModel := func(m string) bool {
		resp, err := http.Get(base + "/v1/models")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `"id":"`+m+`"`)
	}

	// A slow stream (40 tokens at 40/s) runs across the reload.
	stream := startStream(t, base)
	write(config("deepseek-chat", "extra"))
	gw.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "the reloaded model", func() bool { return hasModel("extra") })
	if rest := stream(); !strings.HasSuffix(rest, "data: [DONE]\n\n") {
		t.Fatalf("stream broken by reload:\n%s", rest)
	}

	write("version: 1\nserver: {listne: oops}\n")
	gw.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 5*time.Second, "the refusal in the log", func() bool {
		return strings.Contains(gw.out.tail(50), "reload refused")
	})
	if !hasModel("extra") || !hasModel("deepseek-chat") {
		t.Fatal("a refused reload changed the running config")
	}

	stream = startStream(t, base)
	gw.cmd.Process.Signal(syscall.SIGTERM)
	if rest := stream(); !strings.HasSuffix(rest, "data: [DONE]\n\n") {
		t.Fatalf("SIGTERM cut an in-flight stream:\n%s", rest)
	}
	select {
	case <-gw.done:
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not exit after SIGTERM")
	}
	if code := gw.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// startStream opens a slow stream, waits for its first event and returns
// a function that reads the rest.
func startStream(t *testing.T, base string) func() string {
	t.Helper()
	resp, err := http.Post(base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"deepseek-chat","stream":true,"max_tokens":40,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	return func() string {
		defer resp.Body.Close()
		b, _ := io.ReadAll(br)
		return string(b)
	}
}
