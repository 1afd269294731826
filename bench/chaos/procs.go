package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is a running dsgate process (simulator or gateway) whose output
// goes to a log file.
type proc struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
}

func startProc(bin, logPath string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	p := &proc{cmd: exec.Command(bin, args...), log: f, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", strings.Join(args, " "), err)
	}
	go func() {
		p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// kill sends SIGKILL and waits until the process is gone, so its port is
// free again.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// sim is a `dsgate sim` on a fixed port, which the chaos loop kills and
// starts again.
type sim struct {
	name string
	addr string
	args []string
	logs string
	p    *proc
}

func (s *sim) start(ctx context.Context, bin string) error {
	p, err := startProc(bin, filepath.Join(s.logs, s.name+".log"), append([]string{"sim", "--addr", s.addr}, s.args...)...)
	if err != nil {
		return err
	}
	s.p = p
	return waitHTTP(ctx, "http://"+s.addr+"/health", 10*time.Second, p.done)
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitHTTP polls url until it answers 200, the process exits, or d passes.
func waitHTTP(ctx context.Context, url string, d time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%s: the process exited", url)
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready: %w", url, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// gatewayConfig is the gateway's config: three simulators behind one
// model, with the resilience settings of the e2e tests.
func gatewayConfig(listen, policy string, sims []*sim) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nserver: {listen: %q, shutdown_grace: 2s}\nlog: {access: false, level: info}\nupstreams:\n", listen)
	for _, s := range sims {
		fmt.Fprintf(&b, `  - name: %s
    kind: openai
    url: http://%s
    connect_timeout: 1s
    first_token_timeout: 5s
    idle_timeout: 2s
    health_check: {path: /health, interval: 200ms, timeout: 500ms}
    breaker: {failure_threshold: 5, recovery_timeout: 1s}
`, s.name, s.addr)
	}
	fmt.Fprintf(&b, "models:\n  - name: deepseek-chat\n    policy: %s\n    targets:\n", policy)
	for _, s := range sims {
		fmt.Fprintf(&b, "      - {upstream: %s}\n", s.name)
	}
	return b.String()
}

// buildDsgate builds the dsgate binary of the module in the current
// directory into dir.
func buildDsgate(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "dsgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/dsgate/dsgate/cmd/dsgate")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	return bin, nil
}
