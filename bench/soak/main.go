// Command soak is dsgate's soak test. It builds dsgate (or uses -dsgate),
// starts -upstreams `dsgate sim` processes and one `dsgate serve` in front
// of them, all on 127.0.0.1, with auth on (API keys made by
// `dsgate keys create --config`: main, second, limited with a low RPM,
// admin), the memory cache, the audit trail in files and usage recorded.
// For -duration it sends a steady open-loop mix (-rate req/s) of streams,
// non-streams, repeated cacheable requests (temperature 0, thinking off),
// bad requests (400) and requests of the limited key (429s). Every
// -kill-every it SIGKILLs one simulator in turn and restarts it after
// -down; every -reload-every it sends SIGHUP to the gateway. Every
// -sample-every it records the window's answers by kind, the gateway's RSS
// (/proc/PID/status) and goroutines (go_goroutines from /metrics).
//
// At the end it stops the gateway with SIGTERM, starts it again to read
// GET /admin/usage with the admin key (so usage must have survived the
// graceful stop), stops it again, counts the audit files' records per
// principal and status, and prints a Markdown report: the time series,
// totals per key, and per key the checks "usage = served" (usage requests
// = answers that were admitted: 2xx and 5xx) and "audit = served" (audit
// records by status = answers by status). It exits 1 when a check fails or
// when RSS or goroutines grow: the mean of the last third of the samples
// more than -leak-tolerance (plus -rss-slack or -goroutine-slack) above
// the mean of the first third.
//
//	go run ./bench/soak                                   # 30 min at 50 req/s
//	go run ./bench/soak -duration 3m -kill-every 30s -reload-every 1m
//
// Run it from the repository root. It talks only to 127.0.0.1, stops by
// itself, and every process it starts dies with it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

type config struct {
	duration, killEvery, down, reloadEvery, sampleEvery, timeout time.Duration
	rate                                                         float64
	upstreams, limitedRPM, maxInFlight                           int
	leakTolerance, rssSlackMB                                    float64
	goroutineSlack                                               int
	bin                                                          string
	keepLogs                                                     bool
	simArgs                                                      []string
	args                                                         []string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed, err := run(ctx, os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	c := &config{args: args}
	var ttft time.Duration
	var tps float64
	var maxTokens int
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.DurationVar(&c.duration, "duration", 30*time.Minute, "how long to send requests")
	fs.Float64Var(&c.rate, "rate", 50, "requests per second (open loop)")
	fs.DurationVar(&c.killEvery, "kill-every", time.Minute, "SIGKILL one simulator (in turn) this often")
	fs.DurationVar(&c.down, "down", 3*time.Second, "how long a killed simulator stays down")
	fs.DurationVar(&c.reloadEvery, "reload-every", 5*time.Minute, "send SIGHUP to the gateway this often")
	fs.DurationVar(&c.sampleEvery, "sample-every", 10*time.Second, "time-series window")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.IntVar(&c.upstreams, "upstreams", 3, "simulators behind the model (2 or 3)")
	fs.IntVar(&c.limitedRPM, "limited-rpm", 60, "RPM of the limited key (it gets 3/20 of the rate)")
	fs.IntVar(&c.maxInFlight, "max-in-flight", 1000, "requests in flight at most; a request finding this many counts as a transport error")
	fs.Float64Var(&c.leakTolerance, "leak-tolerance", 0.2, "allowed growth of RSS and goroutines, last third's mean over the first third's")
	fs.Float64Var(&c.rssSlackMB, "rss-slack", 0, "RSS growth in MB allowed on top of -leak-tolerance")
	fs.IntVar(&c.goroutineSlack, "goroutine-slack", 30, "goroutine growth allowed on top of -leak-tolerance (they follow the requests in flight)")
	fs.StringVar(&c.bin, "dsgate", "", "dsgate binary (default: go build ./cmd/dsgate into the run's directory)")
	fs.BoolVar(&c.keepLogs, "keep-logs", false, "keep logs, config, store and audit files (kept anyway when a check fails)")
	fs.DurationVar(&ttft, "ttft", 20*time.Millisecond, "simulated time to first token")
	fs.Float64Var(&tps, "tps", 200, "simulated tokens per second")
	fs.IntVar(&maxTokens, "max-tokens", 32, "tokens per simulated answer")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	switch {
	case c.duration <= 0 || c.rate <= 0 || c.killEvery <= 0 || c.reloadEvery <= 0 || c.sampleEvery <= 0:
		return nil, errors.New("-duration, -rate, -kill-every, -reload-every and -sample-every must be > 0")
	case c.down < 0 || c.down >= c.killEvery:
		return nil, errors.New("need 0 <= -down < -kill-every")
	case c.upstreams < 2 || c.upstreams > 3:
		return nil, errors.New("-upstreams must be 2 or 3")
	case c.limitedRPM < 1:
		return nil, errors.New("-limited-rpm must be >= 1")
	}
	c.simArgs = []string{"--ttft", ttft.String(), "--tps", fmt.Sprint(tps), "--max-tokens", fmt.Sprint(maxTokens)}
	return c, nil
}

// outcome of the whole run, for the report.
type runResult struct {
	c                *config
	dir              string
	started          time.Time
	elapsed          time.Duration
	keys             map[string]*apiKey
	rec              *recorder
	samples          []sample
	events           []string
	stopTook         time.Duration
	stopClean        bool
	usage            map[string]usageRow
	usageErr         error
	audit            *auditCounts
	auditErr         error
	reloads, refused int
}

// run does the whole soak. failed reports whether a check failed.
func run(ctx context.Context, args []string, out io.Writer) (failed bool, err error) {
	c, err := parseFlags(args)
	if err != nil {
		return false, err
	}
	dir, err := os.MkdirTemp("", "dsgate-soak-")
	if err != nil {
		return false, err
	}
	defer func() {
		if c.keepLogs || failed || err != nil {
			fmt.Fprintln(os.Stderr, "soak: logs, config, store and audit files kept in", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	if c.bin == "" {
		logf("building dsgate")
		if c.bin, err = benchkit.BuildDsgate(ctx, dir); err != nil {
			return false, err
		}
	}
	e, err := startEnv(ctx, c, dir)
	defer e.stop()
	if err != nil {
		return false, err
	}
	r := &runResult{c: c, dir: dir, keys: e.keys, rec: newRecorder(), started: time.Now()}
	logf("running %v at %g req/s; gateway %s, %d simulators", c.duration, c.rate, e.url, len(e.sims))
	r.traffic(ctx, e)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	r.finish(ctx, e)
	return r.report(out), nil
}

// traffic runs the load, the faults and the sampler for c.duration.
func (r *runResult) traffic(ctx context.Context, e *env) {
	runCtx, cancel := context.WithTimeout(ctx, r.c.duration)
	defer cancel()
	faults, samples := make(chan []string), make(chan []sample)
	go func() { faults <- e.faults(runCtx, r.c, r.started) }()
	go func() { samples <- sampler(runCtx, r.c, e, r.rec, r.started) }()
	load(runCtx, r.c, e, r.rec, r.started)
	r.elapsed = time.Since(r.started)
	cancel()
	r.events, r.samples = <-faults, <-samples
}

// finish stops the gateway gracefully, restarts it to read the usage, and
// stops it again, then reads the audit files and the gateway's log.
func (r *runResult) finish(ctx context.Context, e *env) {
	logf("load done; SIGTERM to the gateway")
	r.stopTook, r.stopClean = e.gw.Terminate(30 * time.Second)
	if err := e.startGateway(ctx); err != nil {
		r.usageErr = fmt.Errorf("restarting the gateway to read usage: %w", err)
	} else {
		r.usage, r.usageErr = fetchUsage(ctx, e.url, e.keys["admin"].secret)
		e.gw.Terminate(30 * time.Second)
	}
	r.audit, r.auditErr = readAudit(e.auditDir)
	if b, err := os.ReadFile(e.gwLog); err == nil {
		r.reloads = strings.Count(string(b), `"msg":"config reloaded"`)
		r.refused = strings.Count(string(b), `"msg":"reload refused`)
	}
}

// newLocalClient is benchkit's loopback-only client with this run's
// timeout.
func newLocalClient(conns int, timeout time.Duration) *http.Client {
	c := benchkit.NewLocalClient(conns)
	c.Timeout = timeout
	return c
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[soak %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
