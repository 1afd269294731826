// Command chaos is dsgate's chaos benchmark. It builds dsgate (or uses
// -dsgate), starts three `dsgate sim` processes and one `dsgate serve` in
// front of them on 127.0.0.1, sends non-streaming chat requests at a
// steady rate (open loop: a request leaves every 1/rate seconds whether or
// not earlier ones have finished), and every -kill-every SIGKILLs one of
// the simulators in turn and starts it again on the same port after
// -down. At the end it prints requests sent, succeeded and failed, and
// latency percentiles, then one JSON line with the same figures.
//
// The goal is zero failed requests: a request that meets a dead simulator
// must be retried on a live one before anything reaches the client.
//
//	go run ./bench/chaos                      # 60 s at 200 req/s
//	go run ./bench/chaos -d 15s -policy least_conn
//
// Run it from the repository root. Every process it starts is killed when
// it ends, and dies with it if it is killed itself. It exits 1 when a
// request failed.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

type config struct {
	duration    time.Duration
	rate        float64
	killEvery   time.Duration
	down        time.Duration
	policy      string
	bin         string
	timeout     time.Duration
	maxInFlight int
	simArgs     []string
	keepLogs    bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed, err := run(ctx, os.Args[1:], os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	var ttft time.Duration
	var maxTokens int
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.DurationVar(&c.duration, "d", 60*time.Second, "how long to send requests")
	fs.Float64Var(&c.rate, "rate", 200, "requests per second (open loop)")
	fs.DurationVar(&c.killEvery, "kill-every", 5*time.Second, "SIGKILL one simulator (in turn) this often")
	fs.DurationVar(&c.down, "down", time.Second, "how long a killed simulator stays down before it restarts on its port")
	fs.StringVar(&c.policy, "policy", "round_robin", "the model's selection policy")
	fs.StringVar(&c.bin, "dsgate", "", "dsgate binary (default: go build ./cmd/dsgate into a temporary directory)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.IntVar(&c.maxInFlight, "max-in-flight", 2000, "requests in flight at most; a tick finding this many counts as a failure")
	fs.DurationVar(&ttft, "ttft", 5*time.Millisecond, "simulated time to first token")
	fs.IntVar(&maxTokens, "max-tokens", 16, "tokens per simulated answer")
	fs.BoolVar(&c.keepLogs, "keep-logs", false, "keep the process logs and config (the directory is printed)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.duration <= 0 || c.rate <= 0 || c.killEvery <= 0 || c.down < 0 || c.down >= c.killEvery {
		return nil, errors.New("need -d, -rate and -kill-every > 0 and 0 <= -down < -kill-every")
	}
	c.simArgs = []string{"--ttft", ttft.String(), "--max-tokens", fmt.Sprint(maxTokens)}
	return c, nil
}

// run does the whole benchmark. failed reports whether any request failed.
func run(ctx context.Context, args []string, out io.Writer) (failed bool, err error) {
	c, err := parseFlags(args)
	if err != nil {
		return false, err
	}
	dir, err := os.MkdirTemp("", "dsgate-chaos-")
	if err != nil {
		return false, err
	}
	if c.keepLogs {
		fmt.Fprintln(out, "logs and config in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	if c.bin == "" {
		if c.bin, err = buildDsgate(ctx, dir); err != nil {
			return false, err
		}
	}
	env, err := startEnv(ctx, c, dir)
	defer env.stop()
	if err != nil {
		return false, err
	}
	fmt.Fprintf(out, "chaos: %v at %g req/s, policy %s, SIGKILL one of 3 simulators every %v, down %v\n",
		c.duration, c.rate, c.policy, c.killEvery, c.down)

	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	chaosDone := make(chan []string)
	go func() { chaosDone <- env.chaos(ctx, c) }()
	res := load(ctx, c, env.url+"/v1/chat/completions")
	events := <-chaosDone

	for _, e := range events {
		fmt.Fprintln(out, "  "+e)
	}
	res.Kills = len(events)
	res.Policy = c.policy
	res.Upstreams = env.upstreams()
	res.print(out)
	line, _ := json.Marshal(res)
	fmt.Fprintf(out, "%s\n", line)
	return res.Failed > 0, nil
}

// env is the running simulators and gateway.
type env struct {
	bin  string
	sims []*sim
	gw   *benchkit.Child
	url  string
}

func startEnv(ctx context.Context, c *config, dir string) (*env, error) {
	e := &env{bin: c.bin}
	for i := 1; i <= 3; i++ {
		addr, err := freeAddr()
		if err != nil {
			return e, err
		}
		s := &sim{name: fmt.Sprintf("s%d", i), addr: addr, args: c.simArgs, logs: dir}
		e.sims = append(e.sims, s)
		if err := s.start(ctx, c.bin); err != nil {
			return e, err
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return e, err
	}
	cfg := filepath.Join(dir, "dsgate.yaml")
	if err := os.WriteFile(cfg, []byte(gatewayConfig(addr, c.policy, e.sims)), 0o600); err != nil {
		return e, err
	}
	if e.gw, err = benchkit.StartChild(c.bin, filepath.Join(dir, "gateway.log"), "serve", "--config", cfg); err != nil {
		return e, err
	}
	e.url = "http://" + addr
	return e, benchkit.WaitReady(ctx, e.url+"/readyz", 10*time.Second, e.gw.Done())
}

// chaos kills the simulators in turn until ctx ends and returns what it
// did, one line per kill.
func (e *env) chaos(ctx context.Context, c *config) []string {
	var events []string
	start := time.Now()
	tick := time.NewTicker(c.killEvery)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return events
		case <-tick.C:
		}
		// A kill in the run's last moments would hit no request.
		if dl, ok := ctx.Deadline(); ctx.Err() != nil || (ok && time.Until(dl) < c.killEvery/10) {
			return events
		}
		s := e.sims[n%len(e.sims)]
		at := time.Since(start)
		s.p.Kill()
		msg := fmt.Sprintf("%6.1fs SIGKILL %s", at.Seconds(), s.name)
		select {
		case <-ctx.Done():
		case <-time.After(c.down):
		}
		// Restart even when the run is over, so the end state is clean.
		if err := s.start(context.WithoutCancel(ctx), e.bin); err != nil {
			msg += "; restart failed: " + err.Error()
		} else {
			msg += fmt.Sprintf(", restarted on %s at %.1fs", s.addr, time.Since(start).Seconds())
		}
		events = append(events, msg)
	}
}

// upstreams returns the gateway's view of its upstreams after the run.
func (e *env) upstreams() json.RawMessage {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b, err := getJSON(ctx, e.url+"/admin/upstreams")
	if err != nil {
		return nil
	}
	return b
}

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
