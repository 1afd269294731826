package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

// apiKey is one key the load uses, as `dsgate keys create` printed it.
type apiKey struct {
	name   string // the soak's name for it: main, second, limited, admin
	id     string // the principal id the gateway records in usage and audit
	secret string // the bearer token
}

// env is the running simulators and gateway, and what the soak made for
// them.
type env struct {
	bin, dir, cfgPath, auditDir string
	sims                        []*sim
	gw                          *benchkit.Child
	gwLog                       string
	url                         string
	keys                        map[string]*apiKey
}

// startEnv writes the gateway's config, creates the keys in its store,
// and starts the simulators and the gateway.
func startEnv(ctx context.Context, c *config, dir string) (*env, error) {
	e := &env{bin: c.bin, dir: dir, auditDir: filepath.Join(dir, "audit"), gwLog: filepath.Join(dir, "gateway.log"),
		keys: map[string]*apiKey{}}
	for i := 1; i <= c.upstreams; i++ {
		addr, err := benchkit.FreeAddr()
		if err != nil {
			return e, err
		}
		s := &sim{name: fmt.Sprintf("s%d", i), addr: addr, logs: dir, args: c.simArgs}
		e.sims = append(e.sims, s)
		if err := s.start(ctx, c.bin); err != nil {
			return e, err
		}
	}
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return e, err
	}
	e.url = "http://" + addr
	kek := filepath.Join(dir, "kek")
	if err := os.WriteFile(kek, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		return e, err
	}
	e.cfgPath = filepath.Join(dir, "dsgate.yaml")
	if err := os.WriteFile(e.cfgPath, []byte(gatewayConfig(addr, dir, kek, e.sims)), 0o600); err != nil {
		return e, err
	}
	for _, k := range []struct {
		name, role string
		rpm        int
	}{{"main", "developer", 0}, {"second", "developer", 0}, {"limited", "developer", c.limitedRPM}, {"admin", "admin", 0}} {
		if e.keys[k.name], err = createKey(ctx, c.bin, e.cfgPath, k.name, k.role, k.rpm); err != nil {
			return e, err
		}
	}
	return e, e.startGateway(ctx)
}

// startGateway starts `dsgate serve` and waits until it is ready.
func (e *env) startGateway(ctx context.Context) error {
	var err error
	if e.gw, err = benchkit.StartChild(e.bin, e.gwLog, "serve", "--config", e.cfgPath); err != nil {
		return err
	}
	return benchkit.WaitReady(ctx, e.url+"/readyz", 30*time.Second, e.gw.Done())
}

// gatewayConfig is the soak's gateway: the simulators behind one model
// with health checks and breakers, auth with a SQLite store, the memory
// cache, the audit trail in dir/audit (every rotated file kept), usage
// recorded (always on with auth), metrics on the API listener.
func gatewayConfig(listen, dir, kek string, sims []*sim) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nserver: {listen: %q, shutdown_grace: 10s}\nlog: {access: false, level: info}\n", listen)
	b.WriteString("upstreams:\n")
	for _, s := range sims {
		fmt.Fprintf(&b, `  - name: %s
    kind: openai
    url: http://%s
    connect_timeout: 1s
    first_token_timeout: 5s
    idle_timeout: 2s
    health_check: {path: /health, interval: 500ms, timeout: 500ms}
    breaker: {failure_threshold: 5, recovery_timeout: 1s}
`, s.name, s.addr)
	}
	b.WriteString("models:\n  - name: deepseek-chat\n    targets:\n")
	for _, s := range sims {
		fmt.Fprintf(&b, "      - {upstream: %s}\n", s.name)
	}
	b.WriteString("routing: {max_attempts: 5}\n")
	fmt.Fprintf(&b, "store: {dsn: %q}\n", filepath.Join(dir, "store.db"))
	fmt.Fprintf(&b, "auth: {enabled: true, signing_key_encryption_key: \"file:%s\"}\n", kek)
	b.WriteString("cache: {enabled: true, memory: {max_bytes: 16777216, ttl: 10m}}\n")
	fmt.Fprintf(&b, "audit: {enabled: true, dir: %q, file: {max_files: -1}}\n", filepath.Join(dir, "audit"))
	return b.String()
}

// createKey runs `dsgate keys create --config` and reads the id and key it
// prints.
func createKey(ctx context.Context, bin, cfg, name, role string, rpm int) (*apiKey, error) {
	args := []string{"keys", "create", "--config", cfg, "--name", name, "--role", role}
	if rpm > 0 {
		args = append(args, "--rpm", strconv.Itoa(rpm))
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("dsgate keys create %s: %w: %s", name, err, errOut.String())
	}
	k := &apiKey{name: name}
	for _, line := range strings.Split(out.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "id:"); ok {
			k.id = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "key:"); ok {
			k.secret = strings.TrimSpace(v)
		}
	}
	if k.id == "" || k.secret == "" {
		return nil, fmt.Errorf("dsgate keys create %s printed no id or key: %q", name, out.String())
	}
	return k, nil
}

// faults kills the simulators in turn every c.killEvery (restarting each
// after c.down) and, independently, sends SIGHUP to the gateway every
// c.reloadEvery, until ctx ends. It returns one line per event, in order.
func (e *env) faults(ctx context.Context, c *config, start time.Time) []string {
	var (
		mu     sync.Mutex
		events []string
		wg     sync.WaitGroup
	)
	at := func() string { return fmt.Sprintf("%7.1fs", time.Since(start).Seconds()) }
	add := func(msg string) {
		mu.Lock()
		events = append(events, msg)
		mu.Unlock()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		every(ctx, c.reloadEvery, func() {
			add(fmt.Sprintf("%s SIGHUP gateway (err: %v)", at(), e.gw.Signal(syscall.SIGHUP)))
		})
	}()
	go func() {
		defer wg.Done()
		n := 0
		every(ctx, c.killEvery, func() {
			// A kill in the run's last moments would hit no request.
			if dl, ok := ctx.Deadline(); ok && time.Until(dl) < c.killEvery/10 {
				return
			}
			s := e.sims[n%len(e.sims)]
			n++
			s.p.Kill()
			msg := at() + " SIGKILL " + s.name
			select {
			case <-ctx.Done():
			case <-time.After(c.down):
			}
			// Restart even when the run is over, so the end state is clean.
			if err := s.start(context.WithoutCancel(ctx), e.bin); err != nil {
				msg += "; restart failed: " + err.Error()
			} else {
				msg += ", restarted at " + strings.TrimSpace(at())
			}
			add(msg)
		})
	}()
	wg.Wait()
	sort.Strings(events) // by time: every line starts with the same-width seconds
	return events
}

// every calls f every d until ctx ends.
func every(ctx context.Context, d time.Duration, f func()) {
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			f()
		}
	}
}

// stop kills whatever still runs.
func (e *env) stop() {
	if e.gw != nil {
		e.gw.Kill()
	}
	for _, s := range e.sims {
		if s.p != nil {
			s.p.Kill()
		}
	}
}
