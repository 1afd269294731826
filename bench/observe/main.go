// Command observe measures what metrics and the audit trail cost in
// gateway throughput. It builds dsgate and bench/loadgen (or uses -dsgate
// and -loadgen), starts `dsgate sim --ttft 0 --tps 0 --max-tokens 16` and
// four gateways in front of it, all on 127.0.0.1:
//
//   - off: metrics.disabled, audit off;
//   - metrics: Prometheus metrics on (the default), audit off;
//   - audit: metrics off, the audit trail on (spool and JSON-lines file in
//     a temporary directory);
//   - metrics+audit: both on.
//
// Each gateway runs alone on -proxy-cpu (taskset); the simulator and
// loadgen share -load-cpu, as in bench/run.sh. For each round the four are
// measured back to back with loadgen (non-streaming, closed loop), so load
// from elsewhere that drifts hits them alike; each row shows the round
// with the median req/s and the throughput against off. At the end the
// audit files are counted: every answered request must have its record.
//
//	go run ./bench/observe                  # c=64, 3 s cells after 1 s warm-up, 3 rounds
//	go run ./bench/observe -d 10s -rounds 5 # longer
//
// Run it from the repository root on Linux with at least 2 CPUs. It stops
// by itself; every process it starts is stopped when it ends.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
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
	bin, loadgen      string
	proxyCPU, loadCPU int
	keepLogs          bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/observe:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("observe", flag.ContinueOnError)
	var concs string
	fs.DurationVar(&c.duration, "d", 3*time.Second, "measured window per cell")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "warm-up before each window")
	fs.StringVar(&concs, "c", "64", "comma-separated concurrencies")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds of the whole matrix; each row shows its median-req/s round")
	fs.StringVar(&c.bin, "dsgate", "", "dsgate binary (default: build ./cmd/dsgate into a temporary directory)")
	fs.StringVar(&c.loadgen, "loadgen", "", "loadgen binary (default: build ./bench/loadgen)")
	fs.IntVar(&c.proxyCPU, "proxy-cpu", 0, "CPU of the gateway under test")
	fs.IntVar(&c.loadCPU, "load-cpu", 1, "CPU of the simulator and loadgen")
	fs.BoolVar(&c.keepLogs, "keep-logs", false, "keep the process logs, configs and audit files (the directory is printed)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	for _, f := range strings.Split(concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 4096 {
			return nil, fmt.Errorf("-c: bad concurrency %q", f)
		}
		c.concs = append(c.concs, n)
	}
	if c.duration <= 0 || c.warmup < 0 || c.rounds < 1 {
		return nil, errors.New("-d must be > 0, -warmup >= 0, -rounds >= 1")
	}
	return c, nil
}

// target is one gateway configuration under test.
type target struct {
	name           string
	metrics, audit bool
	base           string
	auditDir       string
	p              *benchkit.Proc
	requests       uint64 // every request loadgen finished against it
}

// cell is the part of loadgen's JSON line the report uses.
type cell struct {
	RPS        float64 `json:"rps"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Count      uint64  `json:"count"`
	Errors     uint64  `json:"errors"`
	Requests   uint64  `json:"requests"`
	CPUusPerRq float64 `json:"cpu_us_per_req"`
	PeakRSSKB  int64   `json:"peak_rss_kb"`
	WatchError string  `json:"watch_error"`
	WindowS    float64 `json:"window_s"`
	CPUs       float64 `json:"cpu_s"`
	// CoreBusyPct is how busy each watched CPU was, whoever used it.
	CoreBusyPct map[string]float64 `json:"core_busy_pct"`
}

// othersPct is the share of the gateway's CPU that other processes used
// during the window: a measure of the noise in that cell.
func (c cell) othersPct(cpu int) float64 {
	if c.WindowS == 0 {
		return 0
	}
	return max(c.CoreBusyPct[strconv.Itoa(cpu)]-100*c.CPUs/c.WindowS, 0)
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "dsgate-bench-observe-")
	if err != nil {
		return err
	}
	if cfg.keepLogs {
		fmt.Fprintln(os.Stderr, "logs, configs and audit files in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if cfg.bin == "" {
		logf("building dsgate and loadgen")
		if cfg.bin, err = benchkit.Build(ctx, dir, "dsgate", "./cmd/dsgate"); err != nil {
			return err
		}
	}
	if cfg.loadgen == "" {
		if cfg.loadgen, err = benchkit.Build(ctx, dir, "loadgen", "./bench/loadgen"); err != nil {
			return err
		}
	}
	simAddr, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}
	sim, err := benchkit.StartPinned(dir, "sim", cfg.loadCPU, cfg.bin, "sim", "--addr", simAddr, "--ttft", "0", "--tps", "0", "--max-tokens", "16")
	if err != nil {
		return err
	}
	defer sim.Stop()
	if err := sim.WaitHTTP(ctx, "http://"+simAddr+"/health"); err != nil {
		return err
	}
	targets := []*target{
		{name: "off"}, {name: "metrics", metrics: true}, {name: "audit", audit: true},
		{name: "metrics+audit", metrics: true, audit: true},
	}
	defer func() {
		for _, t := range targets {
			if t.p != nil {
				t.p.Stop()
			}
		}
	}()
	for _, t := range targets {
		if err := t.start(ctx, cfg, dir, simAddr); err != nil {
			return err
		}
	}

	tck := benchkit.ClkTck()
	cells := map[string][]cell{}
	for r := range cfg.rounds {
		for _, c := range cfg.concs {
			for _, t := range targets {
				logf("%s c=%d round %d", t.name, c, r+1)
				res, err := t.measure(ctx, cfg, c, tck)
				if err != nil {
					return err
				}
				t.requests += res.Requests
				cells[cellName(t.name, c)] = append(cells[cellName(t.name, c)], res)
			}
		}
	}
	records := map[string]string{}
	for _, t := range targets {
		t.p.Stop() // SIGTERM: the audit writer drains its queue and spool
		if t.audit {
			n, err := countLines(filepath.Join(t.auditDir, "audit.jsonl"))
			if err != nil {
				return fmt.Errorf("%s: counting audit records: %w", t.name, err)
			}
			// Requests cut at a window's end are audited too (as cancelled),
			// so there may be a few more records than finished requests.
			verdict := "none missing"
			if want := t.requests + 1; uint64(n) < want {
				verdict = fmt.Sprintf("%d MISSING", want-uint64(n))
			}
			records[t.name] = fmt.Sprintf("%d records for %d finished requests (+1 startup check): %s", n, t.requests, verdict)
		}
	}
	report(out, cfg, targets, cells, records)
	return nil
}

func cellName(target string, c int) string { return fmt.Sprintf("%s/%d", target, c) }

func (t *target) start(ctx context.Context, cfg *config, dir, simAddr string) error {
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return err
	}
	t.base = "http://" + addr
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nserver: {listen: %q}\nlog: {access: false}\n", addr)
	fmt.Fprintf(&b, "upstreams:\n  - {name: sim, kind: openai, url: \"http://%s\"}\n", simAddr)
	b.WriteString("models:\n  - {name: deepseek-chat, targets: [{upstream: sim}]}\n")
	fmt.Fprintf(&b, "metrics: {disabled: %t}\n", !t.metrics)
	if t.audit {
		t.auditDir = filepath.Join(dir, "audit-"+strings.ReplaceAll(t.name, "+", "-"))
		fmt.Fprintf(&b, "audit: {enabled: true, dir: %q}\n", t.auditDir)
	}
	name := "gateway-" + strings.ReplaceAll(t.name, "+", "-")
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return err
	}
	if t.p, err = benchkit.StartPinned(dir, name, cfg.proxyCPU, cfg.bin, "serve", "--config", path); err != nil {
		return err
	}
	if err := t.p.WaitHTTP(ctx, t.base+"/readyz"); err != nil {
		return err
	}
	return t.verify()
}

// verify checks that /metrics is served exactly when metrics are on, and
// that one chat request goes through.
func (t *target) verify() error {
	resp, err := http.Post(t.base+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":4}`))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: chat request got %d", t.name, resp.StatusCode)
	}
	if resp, err = http.Get(t.base + "/metrics"); err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if on := resp.StatusCode == http.StatusOK && bytes.Contains(body, []byte("# TYPE")); on != t.metrics {
		return fmt.Errorf("%s: /metrics answered %d (metrics on: %t)", t.name, resp.StatusCode, t.metrics)
	}
	return nil
}

// measure runs one loadgen cell on the load CPU, watching the gateway.
func (t *target) measure(ctx context.Context, cfg *config, c, tck int) (cell, error) {
	args := []string{"-c", strconv.Itoa(cfg.loadCPU), cfg.loadgen,
		"-url", t.base + "/v1/chat/completions", "-c", strconv.Itoa(c), "-d", cfg.duration.String(),
		"-warmup", cfg.warmup.String(), "-max-tokens", "16", "-label", t.name,
		"-watch-pid", strconv.Itoa(t.p.PID()), "-clk-tck", strconv.Itoa(tck), "-watch-cores", strconv.Itoa(cfg.proxyCPU)}
	cmd := exec.CommandContext(ctx, "taskset", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return cell{}, fmt.Errorf("loadgen against %s: %w: %s", t.name, err, stderr.String())
	}
	var res cell
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return cell{}, fmt.Errorf("loadgen output: %w: %s", err, stdout.String())
	}
	if res.WatchError != "" {
		return cell{}, fmt.Errorf("loadgen watching %s: %s", t.name, res.WatchError)
	}
	return res, nil
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		n++
	}
	return n, sc.Err()
}

// byRPS returns the cells sorted by req/s, lowest first.
func byRPS(cs []cell) []cell {
	s := slices.Clone(cs)
	slices.SortFunc(s, func(a, b cell) int {
		switch {
		case a.RPS < b.RPS:
			return -1
		case a.RPS > b.RPS:
			return 1
		}
		return 0
	})
	return s
}

func report(w io.Writer, cfg *config, targets []*target, cells map[string][]cell, records map[string]string) {
	fmt.Fprintf(w, "### Metrics and audit cost (%s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- cells: %v measured after %v warm-up with bench/loadgen (non-streaming chat, max_tokens 16, closed loop), %d round(s), the four gateways back to back in each\n",
		cfg.duration, cfg.warmup, cfg.rounds)
	fmt.Fprintf(w, "- gateway alone on CPU %d; simulator (`dsgate sim --ttft 0 --tps 0 --max-tokens 16`) and loadgen on CPU %d; access log off in every row\n",
		cfg.proxyCPU, cfg.loadCPU)
	for _, t := range targets {
		if r, ok := records[t.name]; ok {
			fmt.Fprintf(w, "- audit file of %s: %s\n", t.name, r)
		}
	}
	fmt.Fprintf(w, "- median and best: the rounds with the median and the highest req/s; other processes only ever slow a cell down, so on a shared machine the best round is the cleaner one. p50, p99 and \"others on CPU %d\" (the share of the gateway's core used by other processes) are of the median round\n", cfg.proxyCPU)
	fmt.Fprintln(w, "- CPU µs/req: the gateway's utime+stime over the window / answered requests (loadgen -watch-pid), lowest of the rounds. \"CPU-bound cost\" = 1 − CPU(off)/CPU(row): the throughput lost when the gateway's core is the bottleneck")
	fmt.Fprintf(w, "- load average at the end: %s\n\n", loadavg())
	fmt.Fprintf(w, "| gateway | c | req/s of each round | median req/s | vs off | best req/s | vs off | p50 ms | p99 ms | others on CPU %d | CPU µs/req | CPU-bound cost | peak RSS MiB | errors |\n", cfg.proxyCPU)
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, c := range cfg.concs {
		offs := byRPS(cells[cellName("off", c)])
		offMed, offBest, offCPU := offs[len(offs)/2], offs[len(offs)-1], minCPU(offs)
		for _, t := range targets {
			all := cells[cellName(t.name, c)]
			s := byRPS(all)
			med, best, cpu := s[len(s)/2], s[len(s)-1], minCPU(s)
			var each []string
			var errs uint64
			for _, x := range all {
				each = append(each, fmt.Sprintf("%.0f", x.RPS))
				errs += x.Errors
			}
			vsMed, vsBest, cost := "", "", ""
			if t.name != "off" {
				vsMed = fmt.Sprintf("%+.1f%%", (med.RPS/offMed.RPS-1)*100)
				vsBest = fmt.Sprintf("%+.1f%%", (best.RPS/offBest.RPS-1)*100)
				cost = fmt.Sprintf("%.1f%%", (1-offCPU/cpu)*100)
			}
			fmt.Fprintf(w, "| %s | %d | %s | %.0f | %s | %.0f | %s | %.3f | %.3f | %.0f%% | %.1f | %s | %.1f | %d |\n",
				t.name, c, strings.Join(each, ", "), med.RPS, vsMed, best.RPS, vsBest, med.P50ms, med.P99ms,
				med.othersPct(cfg.proxyCPU), cpu, cost, float64(med.PeakRSSKB)/1024, errs)
		}
	}
}

func minCPU(cs []cell) float64 {
	m := cs[0].CPUusPerRq
	for _, c := range cs[1:] {
		m = min(m, c.CPUusPerRq)
	}
	return m
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench/observe %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
