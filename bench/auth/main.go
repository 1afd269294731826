// Command auth measures what authentication, authorization and rate
// limiting add to each request. It builds dsgate (or uses -dsgate), starts
// `dsgate sim --ttft 0 --tps 0 --max-tokens 16` and three gateways in front
// of it, all on 127.0.0.1:
//
//   - off: auth disabled (every caller is an anonymous admin);
//   - memory: auth on, an API key with limits far above the load, the
//     memory rate-limit backend, a SQLite store;
//   - redis: the same with the Redis rate-limit backend (skipped when
//     Redis is unreachable).
//
// Each gateway runs alone on -proxy-cpu (taskset); the simulator and this
// program, the closed-loop load generator, share -load-cpu. For each
// concurrency the three gateways are measured back to back, and the table
// shows req/s, p50, p99, mean latency and the gateway's CPU time per
// request (utime+stime from /proc/PID/stat over the window), with the
// differences against auth off. It also runs the package micro-benchmark
// `go test -run '^$' -bench Pipeline -benchtime 20000x ./internal/auth/`.
//
//	go run ./bench/auth                  # 3 s per cell after 1 s warm-up
//	go run ./bench/auth -d 10s -rounds 3 # longer; each row the median-req/s round
//
// Run it from the repository root on Linux with at least 2 CPUs. It stops
// by itself; every process it starts is stopped when it ends.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

type config struct {
	duration, warmup  time.Duration
	concs             []int
	rounds            int
	bin               string
	proxyCPU, loadCPU int
	maxTokens         int
	redisAddr         string
	redisDB           int
	micro, keepLogs   bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/auth:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("auth", flag.ContinueOnError)
	var concs string
	redisAddr := os.Getenv("DSGATE_TEST_REDIS_ADDR")
	if redisAddr == "" {
		redisAddr = "127.0.0.1:6379"
	}
	fs.DurationVar(&c.duration, "d", 3*time.Second, "measured window per cell")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "warm-up before each window")
	fs.StringVar(&concs, "c", "1,64", "comma-separated concurrencies")
	fs.IntVar(&c.rounds, "rounds", 1, "measure every cell this many times; the table shows the median-req/s round")
	fs.StringVar(&c.bin, "dsgate", "", "dsgate binary (default: build ./cmd/dsgate into a temporary directory)")
	fs.IntVar(&c.proxyCPU, "proxy-cpu", 0, "CPU of the gateway under test")
	fs.IntVar(&c.loadCPU, "load-cpu", 1, "CPU of the simulator and the load generator")
	fs.IntVar(&c.maxTokens, "max-tokens", 16, "tokens per simulated answer")
	fs.StringVar(&c.redisAddr, "redis", redisAddr, "Redis for the redis backend rows (default $DSGATE_TEST_REDIS_ADDR or 127.0.0.1:6379)")
	fs.IntVar(&c.redisDB, "redis-db", 8, "Redis database; the limiter's keys are unique to the run, nothing is flushed")
	fs.BoolVar(&c.micro, "micro", true, "also run the Pipeline micro-benchmark of ./internal/auth")
	fs.BoolVar(&c.keepLogs, "keep-logs", false, "keep the process logs and configs (the directory is printed)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, f := range strings.Split(concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("-c: bad concurrency %q", f)
		}
		c.concs = append(c.concs, n)
	}
	if c.duration <= 0 || c.warmup < 0 || c.rounds < 1 {
		return nil, fmt.Errorf("-d must be > 0, -warmup >= 0, -rounds >= 1")
	}
	return c, nil
}

// target is one gateway under test.
type target struct {
	name string
	base string
	key  string // API key; empty with auth off
	p    *benchkit.Proc
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "dsgate-bench-auth-")
	if err != nil {
		return err
	}
	if cfg.keepLogs {
		fmt.Fprintln(os.Stderr, "logs and configs in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := cfg.bin
	if bin == "" {
		logf("building dsgate")
		if bin, err = benchkit.BuildDsgate(ctx, dir); err != nil {
			return err
		}
	}

	simAddr, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}
	sim, err := benchkit.StartPinned(dir, "sim", cfg.loadCPU, bin, "sim", "--addr", simAddr,
		"--ttft", "0", "--tps", "0", "--max-tokens", strconv.Itoa(cfg.maxTokens))
	if err != nil {
		return err
	}
	defer sim.Stop()
	if err := sim.WaitHTTP(ctx, "http://"+simAddr+"/health"); err != nil {
		return err
	}

	backends := []string{"off", "memory", "redis"}
	if c, err := net.DialTimeout("tcp", cfg.redisAddr, time.Second); err != nil {
		logf("redis at %s unreachable, its rows are skipped: %v", cfg.redisAddr, err)
		backends = backends[:2]
	} else {
		c.Close()
	}
	var targets []*target
	defer func() {
		for _, t := range targets {
			t.p.Stop()
		}
	}()
	for _, b := range backends {
		t, err := startTarget(ctx, cfg, dir, bin, b, simAddr)
		if err != nil {
			return err
		}
		targets = append(targets, t)
	}
	if err := benchkit.PinSelf(cfg.loadCPU); err != nil {
		return err
	}

	tck := benchkit.ClkTck()
	results := map[string][]*benchkit.Result{} // name/c -> rounds
	for _, c := range cfg.concs {
		for r := range cfg.rounds {
			for _, t := range targets {
				logf("%s c=%d round %d", t.name, c, r+1)
				res := t.measure(ctx, cfg, c, tck)
				if res.CPUErr != nil {
					return fmt.Errorf("%s: reading CPU time: %w", t.name, res.CPUErr)
				}
				results[cellName(t.name, c)] = append(results[cellName(t.name, c)], res)
			}
		}
	}
	for _, t := range targets {
		t.p.Stop()
	}
	sim.Stop()

	var microOut string
	if cfg.micro {
		logf("go test -run '^$' -bench Pipeline -benchtime 20000x ./internal/auth/")
		microOut, err = microBench(ctx, cfg)
		if err != nil {
			return err
		}
	}
	report(out, cfg, backends, results, microOut)
	return nil
}

func cellName(target string, c int) string { return fmt.Sprintf("%s/%d", target, c) }

// startTarget writes a gateway config for backend (off, memory or redis),
// makes its store and key, and starts it.
func startTarget(ctx context.Context, cfg *config, dir, bin, backend, simAddr string) (*target, error) {
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nserver: {listen: %q}\nlog: {access: false}\n", addr)
	fmt.Fprintf(&b, "upstreams:\n  - {name: sim, kind: openai, url: \"http://%s\"}\n", simAddr)
	b.WriteString("models:\n  - {name: deepseek-chat, targets: [{upstream: sim}]}\n")
	t := &target{name: "auth " + backend, base: "http://" + addr}
	if backend == "off" {
		t.name = "auth off"
	} else {
		db := filepath.Join(dir, backend+".db")
		kek := filepath.Join(dir, "kek")
		if err := os.WriteFile(kek, []byte(strings.Repeat("5a", 32)), 0o600); err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "store: {dsn: %q}\n", db)
		fmt.Fprintf(&b, "auth: {enabled: true, signing_key_encryption_key: \"file:%s\"}\n", kek)
		fmt.Fprintf(&b, "rate_limit: {backend: %s}\n", backend)
		if backend == "redis" {
			fmt.Fprintf(&b, "redis: {addr: %q, db: %d}\n", cfg.redisAddr, cfg.redisDB)
		}
		// Limits far above anything the load reaches, so every request
		// goes through the limiter and none is refused.
		if t.key, err = createKey(ctx, bin, db); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(dir, backend+".yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	if t.p, err = benchkit.StartPinned(dir, "gateway-"+backend, cfg.proxyCPU, bin, "serve", "--config", path); err != nil {
		return nil, err
	}
	if err := t.p.WaitHTTP(ctx, t.base+"/readyz"); err != nil {
		t.p.Stop()
		return nil, err
	}
	if err := t.verify(cfg); err != nil {
		t.p.Stop()
		return nil, err
	}
	return t, nil
}

func createKey(ctx context.Context, bin, db string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, "keys", "create", "--db", db, "--name", "bench", "--role", "developer",
		"--rpm", "1000000000", "--tpm", "1000000000000")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("dsgate keys create: %w: %s", err, errOut.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if k, ok := strings.CutPrefix(line, "key:"); ok {
			return strings.TrimSpace(k), nil
		}
	}
	return "", fmt.Errorf("dsgate keys create printed no key")
}

// verify checks that the gateway does what its row claims: with auth on,
// a request without a key is refused and one with the key gets through
// with rate-limit headers.
func (t *target) verify(cfg *config) error {
	c := benchkit.NewLocalClient(1)
	do := func(key string) (*http.Response, error) {
		resp, err := c.Do(t.chat(cfg, key))
		if err != nil {
			return nil, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp, nil
	}
	resp, err := do(t.key)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: a request with the key got %d", t.name, resp.StatusCode)
	}
	if t.key == "" {
		return nil
	}
	if resp.Header.Get("X-Ratelimit-Limit-Requests") == "" {
		return fmt.Errorf("%s: no x-ratelimit headers: the limiter did not run", t.name)
	}
	if resp, err = do(""); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("%s: a request without a key got %d, want 401", t.name, resp.StatusCode)
	}
	return nil
}

var chatTemplate = `{"model":"deepseek-chat","messages":[{"role":"system","content":"You are a helpful assistant."},` +
	`{"role":"user","content":"Write one short sentence about load balancers."}],"max_tokens":%d}`

func (t *target) chat(cfg *config, key string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, t.base+"/v1/chat/completions",
		strings.NewReader(fmt.Sprintf(chatTemplate, cfg.maxTokens)))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return req
}

func (t *target) measure(ctx context.Context, cfg *config, conc, tck int) *benchkit.Result {
	body := []byte(fmt.Sprintf(chatTemplate, cfg.maxTokens))
	url := t.base + "/v1/chat/completions"
	l := &load{conc: conc, warmup: cfg.warmup, duration: cfg.duration, watchPID: t.p.PID(), watchCore: cfg.proxyCPU, tck: tck,
		request: func(int64) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if t.key != "" {
				req.Header.Set("Authorization", "Bearer "+t.key)
			}
			return req
		}}
	return l.run(ctx)
}

// microBench runs the auth package's Pipeline benchmark, unpinned, exactly
// as its doc comment gives it, and returns its benchmark lines.
func microBench(ctx context.Context, cfg *config) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "Pipeline", "-benchtime", "20000x", "./internal/auth/")
	cmd.Env = append(os.Environ(), "DSGATE_TEST_REDIS_ADDR="+cfg.redisAddr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("micro-benchmark: %w\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "Benchmark") || strings.HasPrefix(l, "cpu:") || strings.Contains(l, "SKIP") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return strings.Join(lines, "\n"), nil
}

// median returns the round with the median req/s.
func median(rs []*benchkit.Result) *benchkit.Result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b *benchkit.Result) int {
		switch {
		case a.RPS() < b.RPS():
			return -1
		case a.RPS() > b.RPS():
			return 1
		}
		return 0
	})
	return s[len(s)/2]
}

func lowestCPU(rs []*benchkit.Result) float64 {
	m := rs[0].CPUPerReq()
	for _, r := range rs[1:] {
		m = min(m, r.CPUPerReq())
	}
	return m
}

func report(w io.Writer, cfg *config, backends []string, results map[string][]*benchkit.Result, micro string) {
	fmt.Fprintf(w, "### Authentication + authorization + rate limiting overhead (%s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- cells: %v measured after %v warm-up, %d round(s) (median-req/s round shown); closed loop, one keep-alive connection per worker; non-streaming chat, max_tokens %d\n",
		cfg.duration, cfg.warmup, cfg.rounds, cfg.maxTokens)
	fmt.Fprintf(w, "- gateway alone on CPU %d; simulator (`dsgate sim --ttft 0 --tps 0 --max-tokens %d`) and load generator on CPU %d\n",
		cfg.proxyCPU, cfg.maxTokens, cfg.loadCPU)
	fmt.Fprintf(w, "- auth on: API key (developer, rpm 1e9, tpm 1e12), SQLite store, usage recording on; metrics on in every row; access log off\n")
	fmt.Fprintf(w, "- latency columns and \"others on CPU %d\" (the share of the gateway's core other processes used: the noise in the cell) are of the median round; CPU µs/req (the gateway's utime+stime over the window / answered requests) is the lowest of the rounds\n", cfg.proxyCPU)
	fmt.Fprintf(w, "- load average at the end: %s\n\n", loadavg())
	fmt.Fprintf(w, "| gateway | c | req/s | p50 ms | p99 ms | mean ms | Δ mean vs off µs | others on CPU %d | CPU µs/req | Δ CPU µs/req vs off | errors |\n", cfg.proxyCPU)
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range cfg.concs {
		off := median(results[cellName("auth off", c)])
		offCPU := lowestCPU(results[cellName("auth off", c)])
		for _, b := range backends {
			name := "auth " + b
			r := median(results[cellName(name, c)])
			cpu := lowestCPU(results[cellName(name, c)])
			dMean, dCPU := "", ""
			if b != "off" {
				dMean = fmt.Sprintf("%+.1f", float64(r.Mean()-off.Mean())/1e3)
				dCPU = fmt.Sprintf("%+.1f", cpu-offCPU)
			}
			errs := strconv.Itoa(r.Errs)
			if r.FirstErr != "" {
				errs += " (" + r.FirstErr + ")"
			}
			fmt.Fprintf(w, "| %s | %d | %.0f | %.3f | %.3f | %.3f | %s | %.0f%% | %.1f | %s | %s |\n", name, c, r.RPS(),
				ms(r.Pct(50)), ms(r.Pct(99)), ms(r.Mean()), dMean, r.OthersPct(), cpu, dCPU, errs)
		}
	}
	if micro != "" {
		fmt.Fprintf(w, "\nMicro-benchmark (`go test -run '^$' -bench Pipeline -benchtime 20000x ./internal/auth/`, unpinned):\n\n```\n%s\n```\n", micro)
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench/auth %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
