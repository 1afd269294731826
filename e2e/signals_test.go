package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/testkit"
)

// TestServeSignals drives the real binary: SIGHUP reloads the config file
// without breaking a stream in flight, a file changing a restart-only key
// or a bad file is refused and the old config keeps serving, and SIGTERM
// lets an in-flight stream finish before the process exits 0.
func TestServeSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	sim := startSim(t, "sim", 0, "--tps", "40")
	port := testkit.FreePort(t)
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
	testkit.Eventually(t, 10*time.Second, "readyz", func() bool {
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
	testkit.Eventually(t, 5*time.Second, "the reloaded model", func() bool { return hasModel("extra") })
	if rest := stream(); !strings.HasSuffix(rest, "data: [DONE]\n\n") {
		t.Fatalf("stream broken by reload:\n%s", rest)
	}

	// A key that needs a restart refuses the reload whole, naming the key.
	write(strings.Replace(config("deepseek-chat", "extra", "third"), fmt.Sprintf(":%d", port), fmt.Sprintf(":%d", port+1), 1))
	gw.cmd.Process.Signal(syscall.SIGHUP)
	testkit.Eventually(t, 5*time.Second, "the refusal naming server.listen", func() bool {
		return strings.Contains(gw.out.Tail(50), "changing server.listen")
	})
	if hasModel("third") {
		t.Fatal("a refused reload added a model")
	}

	write("version: 1\nserver: {listne: oops}\n")
	gw.cmd.Process.Signal(syscall.SIGHUP)
	testkit.Eventually(t, 5*time.Second, "the refusal in the log", func() bool {
		return strings.Contains(gw.out.Tail(50), "reload refused")
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

// TestSIGTERMDrainsGRPCAndHTTP starts a slow gRPC stream and a shorter HTTP
// stream, sends SIGTERM and expects both to run to their end within the
// grace period: the gRPC listener is drained beside the HTTP one, not cut
// once HTTP has nothing left.
func TestSIGTERMDrainsGRPCAndHTTP(t *testing.T) {
	sim := startSim(t, "sim", 0, "--tps", "40")
	port, grpcPort := testkit.FreePort(t), testkit.FreePort(t)
	path := filepath.Join(t.TempDir(), "dsgate.yaml")
	cfg := fmt.Sprintf(`version: 1
server: {listen: "127.0.0.1:%d", shutdown_grace: 10s}
grpc: {listen: "127.0.0.1:%d"}
log: {access: false}
upstreams:
  - {name: s, kind: openai, url: %q}
models:
  - {name: deepseek-chat, targets: [{upstream: s, model: deepseek-chat}]}
`, port, grpcPort, sim.url())
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	gw := startProc(t, "gateway", "serve", "--config", path)
	waitProcReady(t, gw, base)

	// The gRPC stream outlasts the HTTP one (80 tokens against 40, at 40/s).
	grpcStream := startGRPCStream(t, fmt.Sprintf("127.0.0.1:%d", grpcPort), 80)
	httpStream := startStream(t, base)
	start := time.Now()
	gw.cmd.Process.Signal(syscall.SIGTERM)

	events, err := grpcStream()
	if err != nil {
		t.Fatalf("SIGTERM cut an in-flight gRPC stream after %d events, %v: %v", events, time.Since(start), err)
	}
	if rest := httpStream(); !strings.HasSuffix(rest, "data: [DONE]\n\n") {
		t.Fatalf("SIGTERM cut an in-flight HTTP stream:\n%s", rest)
	}
	waitExit(t, gw, 10*time.Second)
	if code := gw.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}

// waitProcReady waits until the gateway process answers /readyz.
func waitProcReady(t *testing.T, gw *proc, base string) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "readyz", func() bool {
		select {
		case <-gw.done:
			t.Fatalf("gateway exited:\n%s", gw.out.Tail(20))
		default:
		}
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// waitExit waits for the process to exit.
func waitExit(t *testing.T, p *proc, d time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%s did not exit", p.name)
	}
}

// startGRPCStream opens a StreamChatCompletion of maxTokens tokens, waits
// for its first event and returns a function that reads the rest: the
// number of events and the error that ended the stream (nil at io.EOF
// after a finish event).
func startGRPCStream(t *testing.T, addr string, maxTokens int32) func() (int, error) {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	text := "hi"
	st, err := pb.NewInferenceServiceClient(conn).StreamChatCompletion(context.Background(),
		&pb.StreamChatCompletionRequest{Request: &pb.ChatCompletionRequest{Model: "deepseek-chat",
			MaxTokens: &maxTokens, Messages: []*pb.Message{{Role: "user", Content: &text}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatalf("first gRPC event: %v", err)
	}
	return func() (int, error) {
		n, finished := 1, false
		for {
			ev, err := st.Recv()
			if errors.Is(err, io.EOF) {
				if !finished {
					return n, errors.New("stream ended without a finish event")
				}
				return n, nil
			}
			if err != nil {
				return n, err
			}
			n++
			switch e := ev.Event.(type) {
			case *pb.StreamChatCompletionResponse_Finish_:
				finished = true
			case *pb.StreamChatCompletionResponse_Error:
				return n, fmt.Errorf("error event: %v", e.Error)
			}
		}
	}
}

// TestSIGTERMGraceEnd sends SIGTERM with many short streams and two long
// ones (HTTP and gRPC) in flight and a 2s grace period. The short streams
// finish and are audited with the 200 their clients saw (their clients
// close the connection as soon as [DONE] arrives, as SDKs do); the long
// ones are cut at the end of the grace period with an error event, not a
// bare EOF; the process exits 0 with every request in the audit file.
func TestSIGTERMGraceEnd(t *testing.T) {
	sim := startSim(t, "sim", 0, "--tps", "40")
	port, grpcPort := testkit.FreePort(t), testkit.FreePort(t)
	dir := t.TempDir()
	auditFile := filepath.Join(dir, "audit", "audit.jsonl")
	path := filepath.Join(dir, "dsgate.yaml")
	cfg := fmt.Sprintf(`version: 1
server: {listen: "127.0.0.1:%d", shutdown_grace: 2s}
grpc: {listen: "127.0.0.1:%d"}
log: {access: false}
audit: {enabled: true, dir: %q, file: {path: %q}}
upstreams:
  - {name: s, kind: openai, url: %q}
models:
  - {name: deepseek-chat, targets: [{upstream: s, model: deepseek-chat}]}
`, port, grpcPort, filepath.Join(dir, "audit"), auditFile, sim.url())
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	gw := startProc(t, "gateway", "serve", "--config", path)
	waitProcReady(t, gw, base)

	const short = 30
	shorts := make([]func() string, short)
	for i := range shorts {
		shorts[i] = startStreamTokens(t, base, 40) // 1s
	}
	long := startStreamTokens(t, base, 400)                                    // 10s
	longGRPC := startGRPCStream(t, fmt.Sprintf("127.0.0.1:%d", grpcPort), 400) // 10s
	start := time.Now()
	gw.cmd.Process.Signal(syscall.SIGTERM)

	var wg sync.WaitGroup
	for i, read := range shorts {
		wg.Go(func() {
			if rest := read(); !strings.HasSuffix(rest, "data: [DONE]\n\n") {
				t.Errorf("short stream %d cut:\n%s", i, rest)
			}
		})
	}
	var grpcErr error
	wg.Go(func() { _, grpcErr = longGRPC() })
	rest := long()
	if !strings.Contains(rest, `data: {"error":`) {
		t.Errorf("a stream cut at the end of the grace period ended without an error event; its tail:\n%s", tail(rest, 300))
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the long stream ended %v after SIGTERM with a 2s grace period", d)
	}
	wg.Wait()
	if grpcErr == nil {
		t.Error("the long gRPC stream ended without an error")
	}
	waitExit(t, gw, 5*time.Second)
	if code := gw.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}

	statuses := map[int]int{}
	for _, ev := range readAudit(t, auditFile) {
		statuses[ev.Status]++
	}
	if statuses[200] < short || statuses[499] != 0 || total(statuses) != short+2 {
		t.Errorf("audit statuses %v; want %d or more 200s, no 499 and %d records", statuses, short, short+2)
	}
}

// auditEvent is the part of an audit record the tests read.
type auditEvent struct {
	Seq              uint64 `json:"seq"`
	Principal        string `json:"principal"`
	Route            string `json:"route"`
	Status           int    `json:"status"`
	ErrorType        string `json:"error_type"`
	PromptTokens     int64  `json:"prompt_tokens"`
	CompletionTokens int64  `json:"completion_tokens"`
	CacheHitTokens   int64  `json:"cache_hit_tokens"`
}

// readAudit reads a JSON-lines audit file.
func readAudit(t *testing.T, path string) []auditEvent {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []auditEvent
	for line := range strings.Lines(string(b)) {
		var ev auditEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}

func total(m map[int]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// startStreamTokens opens a stream of maxTokens tokens and waits for its
// first event. The function it returns reads up to "data: [DONE]" (or the
// end) and closes the connection at once, as an SDK does.
func startStreamTokens(t *testing.T, base string, maxTokens int) func() string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(fmt.Sprintf(
		`{"model":"deepseek-chat","stream":true,"max_tokens":%d,"messages":[{"role":"user","content":"hi"}]}`, maxTokens)))
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return func() string {
		defer resp.Body.Close()
		var b strings.Builder
		b.WriteString(first)
		for {
			line, err := br.ReadString('\n')
			b.WriteString(line)
			if err != nil || line == "data: [DONE]\n" {
				if err == nil {
					b.WriteString("\n")
				}
				return b.String()
			}
		}
	}
}
