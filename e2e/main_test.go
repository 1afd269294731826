package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
)

// dsgateBin is the binary built once by TestMain.
var dsgateBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped in -short mode")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "dsgate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	dsgateBin = filepath.Join(dir, "dsgate")
	build := exec.Command("go", "build", "-o", dsgateBin, "github.com/dsgate/dsgate/cmd/dsgate")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building dsgate:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running dsgate process.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *testkit.LogBuffer
	done chan struct{}
}

// startProc runs dsgate with args. It is SIGKILLed when the test ends; if
// the test failed, the tail of its output is logged.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, name, "", nil, args...)
}

// startProcEnv is startProc in working directory dir ("" for the test's)
// with env (KEY=value) added to the environment.
func startProcEnv(t *testing.T, name, dir string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: &testkit.LogBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(dsgateBin, args...)
	p.cmd.Dir = dir
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- %s output (tail) ---\n%s", name, p.out.Tail(30))
		}
	})
	return p
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// simulator is a `dsgate sim` process on a fixed port, restartable.
type simulator struct {
	name string
	port int
	p    *proc
}

func (s *simulator) url() string { return fmt.Sprintf("http://127.0.0.1:%d", s.port) }

// startSim starts a simulator on port (0: a free one) with extra flags and
// waits until it answers /health.
func startSim(t *testing.T, name string, port int, flags ...string) *simulator {
	t.Helper()
	if port == 0 {
		port = testkit.FreePort(t)
	}
	s := &simulator{name: name, port: port}
	args := append([]string{"sim", "--addr", fmt.Sprintf("127.0.0.1:%d", port)}, flags...)
	s.p = startProc(t, "sim "+name, args...)
	testkit.Eventually(t, 10*time.Second, "sim "+name+" to answer /health", func() bool {
		select {
		case <-s.p.done:
			t.Fatalf("sim %s exited:\n%s", name, s.p.out.Tail(20))
		default:
		}
		resp, err := http.Get(s.url() + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return s
}

// restart kills the simulator and starts it again on the same port with
// new flags.
func (s *simulator) restart(t *testing.T, flags ...string) {
	t.Helper()
	s.p.kill()
	*s = *startSim(t, s.name, s.port, flags...)
}

// upstreamYAML is one upstream entry with the resilience settings the
// tests rely on: probes every 200ms, breaker at 5 failures with 1s
// recovery, streams cut after 500ms of silence.
func upstreamYAML(s *simulator) string {
	return fmt.Sprintf(`  - name: %s
    kind: openai
    url: %s
    first_token_timeout: 2s
    idle_timeout: 500ms
    health_check: {path: /health, interval: 200ms, timeout: 500ms}
    breaker: {failure_threshold: 5, recovery_timeout: 1s}
`, s.name, s.url())
}

// gatewayProc is a running `dsgate serve`.
type gatewayProc struct {
	base string
	p    *proc
}

// startGateway writes a config with the given routing section, the sims
// as upstreams and the models YAML, runs dsgate serve and waits for
// /readyz.
func startGateway(t *testing.T, routing string, sims []*simulator, models string) *gatewayProc {
	t.Helper()
	return startGatewayEnv(t, nil, routing, sims, models)
}

// startGatewayEnv is startGateway with env (KEY=value) added to the
// gateway's environment.
func startGatewayEnv(t *testing.T, env []string, routing string, sims []*simulator, models string) *gatewayProc {
	t.Helper()
	port := testkit.FreePort(t)
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nserver: {listen: \"127.0.0.1:%d\", shutdown_grace: 1s}\n", port)
	b.WriteString("log: {access: false, level: info}\n")
	if routing != "" {
		b.WriteString("routing: " + routing + "\n")
	}
	b.WriteString("upstreams:\n")
	for _, s := range sims {
		b.WriteString(upstreamYAML(s))
	}
	b.WriteString("models:\n" + models)
	path := filepath.Join(t.TempDir(), "dsgate.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{base: fmt.Sprintf("http://127.0.0.1:%d", port)}
	g.p = startProcEnv(t, "gateway", "", env, "serve", "--config", path)
	testkit.Eventually(t, 10*time.Second, "gateway /readyz", func() bool {
		select {
		case <-g.p.done:
			t.Fatalf("gateway exited:\n%s\nconfig:\n%s", g.p.out.Tail(20), b.String())
		default:
		}
		resp, err := http.Get(g.base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return g
}

// status is one entry of GET /admin/upstreams.
type status struct {
	Name          string `json:"name"`
	Healthy       bool   `json:"healthy"`
	ActiveHealthy bool   `json:"active_healthy"`
	Breaker       string `json:"breaker"`
	InFlight      int64  `json:"in_flight"`
	LastError     string `json:"last_error"`
}

func (g *gatewayProc) upstream(t *testing.T, name string) status {
	t.Helper()
	resp, err := http.Get(g.base + "/admin/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Data []status }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("/admin/upstreams: %v", err)
	}
	for _, s := range list.Data {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("/admin/upstreams has no %s: %+v", name, list.Data)
	return status{}
}

// post sends one request and returns the status and body; a transport
// error is status 0 with the error as body.
func post(c *http.Client, url, body string) (int, string) {
	resp, err := c.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "reading body: " + err.Error()
	}
	return resp.StatusCode, string(b)
}

func chatBody(model string, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"stream":%t,"messages":[{"role":"user","content":"hello"}],"max_tokens":8}`, model, stream)
}

func newClient() *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true},
	}
}
