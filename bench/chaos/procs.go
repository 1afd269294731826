package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

// sim is a `dsgate sim` on a fixed port, which the chaos loop kills and
// starts again.
type sim struct {
	name string
	addr string
	args []string
	logs string
	p    *benchkit.Child
}

func (s *sim) start(ctx context.Context, bin string) error {
	p, err := benchkit.StartChild(bin, filepath.Join(s.logs, s.name+".log"), append([]string{"sim", "--addr", s.addr}, s.args...)...)
	if err != nil {
		return err
	}
	s.p = p
	return benchkit.WaitReady(ctx, "http://"+s.addr+"/health", 10*time.Second, p.Done())
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
