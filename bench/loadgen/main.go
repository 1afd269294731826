package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

// config is the parsed command line.
type config struct {
	url       string
	body      []byte
	stream    bool
	conc      int
	duration  time.Duration
	count     int
	warmup    time.Duration
	timeout   time.Duration
	maxTime   time.Duration
	label     string
	watchPIDs []int
	cores     []int
	clkTck    int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	res, err := newRunner(cfg).run(ctx)
	if err != nil {
		return err
	}
	line, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encoding result: %w", err)
	}
	fmt.Fprintf(stdout, "%s\n", line)
	if res.Count == 0 {
		return errors.New("no request succeeded")
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg             config
		bodyFile, model string
		maxTokens       int
		pids, cores     string
	)
	fs.StringVar(&cfg.url, "url", "http://127.0.0.1:18080/v1/chat/completions", "target URL (host must be 127.0.0.1)")
	fs.StringVar(&bodyFile, "body", "", "file with the request body (default: a built-in chat request)")
	fs.StringVar(&model, "model", "deepseek-chat", "model of the built-in chat body")
	fs.IntVar(&maxTokens, "max-tokens", 16, "max_tokens of the built-in chat body")
	fs.BoolVar(&cfg.stream, "stream", false, "streaming: ask for SSE (built-in body), read it to the end, require [DONE]")
	fs.IntVar(&cfg.conc, "c", 1, "concurrency: closed-loop workers, each on its own keep-alive connection")
	fs.DurationVar(&cfg.duration, "d", 10*time.Second, "measured duration (after the warm-up); ignored with -n")
	fs.IntVar(&cfg.count, "n", 0, "measured request count (after the warm-up) instead of a duration")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "warm-up before measuring; its requests are not recorded")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "per-request timeout")
	fs.DurationVar(&cfg.maxTime, "max-time", 10*time.Minute, "hard bound on the whole run")
	fs.StringVar(&cfg.label, "label", "", "free text copied to the result line")
	fs.StringVar(&pids, "watch-pid", "", "comma-separated PIDs whose CPU time (utime+stime) and peak RSS (VmHWM) to report")
	fs.StringVar(&cores, "watch-cores", "", "comma-separated CPU numbers whose busy share over the window to report (/proc/stat)")
	fs.IntVar(&cfg.clkTck, "clk-tck", 100, "kernel clock ticks per second (getconf CLK_TCK), for -watch-pid")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if err = checkURL(cfg.url); err != nil {
		return nil, err
	}
	switch {
	case cfg.conc < 1 || cfg.conc > 4096:
		return nil, fmt.Errorf("-c must be 1..4096, got %d", cfg.conc)
	case cfg.count < 0:
		return nil, fmt.Errorf("-n must be >= 0, got %d", cfg.count)
	case cfg.count == 0 && cfg.duration <= 0:
		return nil, errors.New("-d must be > 0 when -n is not set")
	case cfg.warmup < 0 || cfg.timeout <= 0 || cfg.maxTime <= 0 || cfg.clkTck <= 0:
		return nil, errors.New("-warmup must be >= 0 and -timeout, -max-time, -clk-tck > 0")
	case cfg.count == 0 && cfg.warmup+cfg.duration > cfg.maxTime:
		return nil, fmt.Errorf("-warmup + -d exceeds -max-time %v", cfg.maxTime)
	}
	if bodyFile != "" {
		b, err := os.ReadFile(bodyFile)
		if err != nil {
			return nil, fmt.Errorf("reading body: %w", err)
		}
		cfg.body = b
	} else {
		cfg.body = chatBody(model, maxTokens, cfg.stream)
	}
	if cfg.watchPIDs, err = intList(pids, 1); err != nil {
		return nil, fmt.Errorf("-watch-pid: %w", err)
	}
	if cfg.cores, err = intList(cores, 0); err != nil {
		return nil, fmt.Errorf("-watch-cores: %w", err)
	}
	return &cfg, nil
}

// intList parses "1,2,3"; every number must be at least lo.
func intList(s string, lo int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < lo {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// checkURL allows plain HTTP to 127.0.0.1 only: the benchmark must never
// send load anywhere else.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("-url: scheme must be http, got %q", u.Scheme)
	}
	if u.Hostname() != "127.0.0.1" {
		return fmt.Errorf("-url: host must be 127.0.0.1, got %q", u.Hostname())
	}
	return nil
}

// chatBody is a small chat request; the simulator answers it with
// max_tokens tokens of filler.
func chatBody(model string, maxTokens int, stream bool) []byte {
	b, _ := json.Marshal(map[string]any{
		"model": model,
		"messages": []map[string]string{
			{"role": "system", "content": "You are a helpful assistant."},
			{"role": "user", "content": "Write one short sentence about load balancers."},
		},
		"max_tokens": maxTokens,
		"stream":     stream,
	})
	return b
}
