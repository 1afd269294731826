// Command cache measures response-cache hits through the gateway, per
// tier, and the gateway's memory with a full memory tier. It builds dsgate
// (or uses -dsgate) and starts `dsgate sim --ttft 0 --tps 0 --max-tokens
// 16` and the gateways it measures, all on 127.0.0.1:
//
//   - memory: one temperature-0 request is cached, then sent again and
//     again for -d at each concurrency; every answer must be a memory hit.
//     The same gateway with Cache-Control: no-store (the upstream path),
//     and GET /healthz (the least a request through this harness costs),
//     are the reference rows.
//   - redis, disk, s3: the memory tier promotes hits, so a lower tier is
//     measured by first hits. A warm-up gateway (memory + that tier) caches
//     -n distinct requests per concurrency and waits until the tier holds
//     them all; it is stopped, and a fresh gateway with the same config
//     (empty memory) is sent each request exactly once: every answer must
//     come from the tier under test. The S3 tier is gofakes3 run inside
//     this program (an S3-protocol server in memory) on the load CPU.
//   - RSS: a gateway whose memory tier (-fill-bytes) is filled with
//     distinct large answers; its VmRSS before and after, and VmHWM.
//
// The gateway runs alone on -proxy-cpu (taskset); the simulator, gofakes3
// and this program, the load generator, share -load-cpu. Tier read
// timeouts are raised to 1s so a slow read shows as latency, not as a
// miss.
//
//	go run ./bench/cache                     # 3 s per memory cell, 2000 first hits per tier cell
//	go run ./bench/cache -d 10s -n 10000      # longer
//
// Run it from the repository root on Linux with at least 2 CPUs. It stops
// by itself; every process it starts is stopped when it ends. The Redis
// tier uses -redis-db (default 9) with keys unique to the run, and purges
// the cache there when it ends.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

type config struct {
	duration, warmup  time.Duration
	concs             []int
	n                 int
	tiers             []string
	bin               string
	proxyCPU, loadCPU int
	redisAddr         string
	redisDB           int
	fillBytes         int64
	fillTokens        int
	keepLogs          bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/cache:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("cache", flag.ContinueOnError)
	var concs, tiers string
	redisAddr := os.Getenv("DSGATE_TEST_REDIS_ADDR")
	if redisAddr == "" {
		redisAddr = "127.0.0.1:6379"
	}
	fs.DurationVar(&c.duration, "d", 3*time.Second, "measured window of a memory-tier cell")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "warm-up before a memory-tier window")
	fs.StringVar(&concs, "c", "1,64", "comma-separated concurrencies")
	fs.IntVar(&c.n, "n", 2000, "distinct first hits per lower-tier cell")
	fs.StringVar(&tiers, "tiers", "memory,redis,disk,s3", "tiers to measure")
	fs.StringVar(&c.bin, "dsgate", "", "dsgate binary (default: build ./cmd/dsgate into a temporary directory)")
	fs.IntVar(&c.proxyCPU, "proxy-cpu", 0, "CPU of the gateway under test")
	fs.IntVar(&c.loadCPU, "load-cpu", 1, "CPU of the simulator, gofakes3 and the load generator")
	fs.StringVar(&c.redisAddr, "redis", redisAddr, "Redis for the redis tier (default $DSGATE_TEST_REDIS_ADDR or 127.0.0.1:6379)")
	fs.IntVar(&c.redisDB, "redis-db", 9, "Redis database of the redis tier")
	fs.Int64Var(&c.fillBytes, "fill-bytes", 64<<20, "memory.max_bytes of the RSS run, filled with distinct entries (0: skip)")
	fs.IntVar(&c.fillTokens, "fill-tokens", 2048, "max_tokens of the answers that fill it (about 6 bytes each)")
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
	for _, t := range strings.Split(tiers, ",") {
		switch t = strings.TrimSpace(t); t {
		case "memory", "redis", "disk", "s3":
			c.tiers = append(c.tiers, t)
		case "":
		default:
			return nil, fmt.Errorf("-tiers: unknown tier %q", t)
		}
	}
	if c.duration <= 0 || c.warmup < 0 || c.n < 1 || c.fillBytes < 0 {
		return nil, errors.New("-d and -n must be > 0, -warmup and -fill-bytes >= 0")
	}
	return c, nil
}

// bench holds what every measurement shares.
type bench struct {
	cfg     *config
	dir     string
	bin     string
	simAddr string
	tck     int
	nonce   string // makes this run's requests, and so its cache keys, unique
	rows    []row
	rss     *rssResult
}

// row is one line of the latency table.
type row struct {
	tier, how string
	c         int
	res       *benchkit.Result
}

func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseFlags(args)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "dsgate-bench-cache-")
	if err != nil {
		return err
	}
	if cfg.keepLogs {
		fmt.Fprintln(os.Stderr, "logs and configs in", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	b := &bench{cfg: cfg, dir: dir, bin: cfg.bin, tck: benchkit.ClkTck(), nonce: strconv.FormatInt(time.Now().UnixNano(), 36)}
	if b.bin == "" {
		logf("building dsgate")
		if b.bin, err = benchkit.BuildDsgate(ctx, dir); err != nil {
			return err
		}
	}
	if b.simAddr, err = benchkit.FreeAddr(); err != nil {
		return err
	}
	sim, err := benchkit.StartPinned(dir, "sim", cfg.loadCPU, b.bin, "sim", "--addr", b.simAddr,
		"--ttft", "0", "--tps", "0", "--max-tokens", "16")
	if err != nil {
		return err
	}
	defer sim.Stop()
	if err := sim.WaitHTTP(ctx, "http://"+b.simAddr+"/health"); err != nil {
		return err
	}
	if err := benchkit.PinSelf(cfg.loadCPU); err != nil {
		return err
	}
	var skipped []string
	for _, tier := range cfg.tiers {
		var err error
		switch tier {
		case "memory":
			err = b.memoryTier(ctx)
		case "redis":
			if c, derr := net.DialTimeout("tcp", cfg.redisAddr, time.Second); derr != nil {
				skipped = append(skipped, fmt.Sprintf("redis (unreachable at %s)", cfg.redisAddr))
				continue
			} else {
				c.Close()
			}
			err = b.lowerTier(ctx, tier)
		default:
			err = b.lowerTier(ctx, tier)
		}
		if err != nil {
			return fmt.Errorf("%s tier: %w", tier, err)
		}
	}
	if cfg.fillBytes > 0 {
		if b.rss, err = b.fullMemory(ctx); err != nil {
			return fmt.Errorf("full memory tier: %w", err)
		}
	}
	b.report(out, skipped)
	return nil
}

// gateway is a running `dsgate serve` under test.
type gateway struct {
	base string
	p    *benchkit.Proc
}

// startGateway writes a config with the cache section cacheYAML and starts
// the gateway on the proxy CPU.
func (b *bench) startGateway(ctx context.Context, name, cacheYAML string) (*gateway, error) {
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`version: 1
server: {listen: %q}
log: {access: false}
redis: {addr: %q, db: %d}
upstreams:
  - {name: sim, kind: openai, url: "http://%s"}
models:
  - {name: deepseek-chat, targets: [{upstream: sim}]}
cache:
  enabled: true
  shared: true
%s`, addr, b.cfg.redisAddr, b.cfg.redisDB, b.simAddr, cacheYAML)
	path := filepath.Join(b.dir, name+".yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	g := &gateway{base: "http://" + addr}
	if g.p, err = benchkit.StartPinned(b.dir, name, b.cfg.proxyCPU, b.bin, "serve", "--config", path); err != nil {
		return nil, err
	}
	if err := g.p.WaitHTTP(ctx, g.base+"/readyz"); err != nil {
		g.p.Stop()
		return nil, err
	}
	return g, nil
}

// chat returns a temperature-0 request whose cache key is set by id.
func (b *bench) chat(g *gateway, id string, maxTokens int) *http.Request {
	body := fmt.Sprintf(`{"model":"deepseek-chat","temperature":0,"max_tokens":%d,"messages":[`+
		`{"role":"system","content":"You are a helpful assistant."},`+
		`{"role":"user","content":"Cache benchmark %s, request %s."}]}`, maxTokens, b.nonce, id)
	req, _ := http.NewRequest(http.MethodPost, g.base+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return req
}

// servedBy checks an answer's x-dsgate-cache headers.
func servedBy(result, tier string) func(*http.Response, []byte) error {
	return func(resp *http.Response, _ []byte) error {
		r, t := resp.Header.Get("X-Dsgate-Cache"), resp.Header.Get("X-Dsgate-Cache-Tier")
		if r != result || (tier != "" && t != tier) {
			return fmt.Errorf("x-dsgate-cache %q tier %q, want %q %q", r, t, result, tier)
		}
		return nil
	}
}

// memoryTier: one cached request sent again and again (memory hits), and
// the same gateway's upstream path (no-store) for reference.
func (b *bench) memoryTier(ctx context.Context) error {
	g, err := b.startGateway(ctx, "gateway-memory", "")
	if err != nil {
		return err
	}
	defer g.p.Stop()
	l := &load{conc: 1, count: 1, request: func(int64) *http.Request { return b.chat(g, "hot", 16) },
		check: servedBy("miss", "")}
	if r := l.run(ctx); r.Errs > 0 {
		return fmt.Errorf("caching the hot request: %s", r.FirstErr)
	}
	for _, c := range b.cfg.concs {
		logf("memory tier c=%d", c)
		hit := &load{conc: c, warmup: b.cfg.warmup, duration: b.cfg.duration, watchPID: g.p.PID(), watchCore: b.cfg.proxyCPU, tck: b.tck,
			request: func(int64) *http.Request { return b.chat(g, "hot", 16) }, check: servedBy("hit", "memory")}
		b.rows = append(b.rows, row{"memory", "same request, repeated", c, hit.run(ctx)})
		logf("upstream path (no-store) c=%d", c)
		up := &load{conc: c, warmup: b.cfg.warmup, duration: b.cfg.duration, watchPID: g.p.PID(), watchCore: b.cfg.proxyCPU, tck: b.tck,
			request: func(int64) *http.Request {
				req := b.chat(g, "hot", 16)
				req.Header.Set("Cache-Control", "no-store")
				return req
			}, check: servedBy("bypass", "")}
		b.rows = append(b.rows, row{"none (no-store: upstream)", "same request, repeated", c, up.run(ctx)})
		logf("harness floor (GET /healthz) c=%d", c)
		floor := &load{conc: c, warmup: b.cfg.warmup, duration: b.cfg.duration, watchPID: g.p.PID(), watchCore: b.cfg.proxyCPU, tck: b.tck,
			request: func(int64) *http.Request {
				req, _ := http.NewRequest(http.MethodGet, g.base+"/healthz", nil)
				return req
			}}
		b.rows = append(b.rows, row{"none (GET /healthz: the harness floor)", "same request, repeated", c, floor.run(ctx)})
	}
	return nil
}

// tierYAML is the cache section enabling memory plus tier.
func (b *bench) tierYAML(tier string) (string, error) {
	switch tier {
	case "redis":
		return "  redis: {enabled: true, ttl: 10m, timeout: 1s}\n", nil
	case "disk":
		return fmt.Sprintf("  disk: {enabled: true, timeout: 1s, dir: %q}\n", filepath.Join(b.dir, "disk")), nil
	case "s3":
		endpoint, err := startFakeS3(b.dir)
		if err != nil {
			return "", err
		}
		cred := filepath.Join(b.dir, "s3cred")
		if err := os.WriteFile(cred, []byte("bench"), 0o600); err != nil {
			return "", err
		}
		return fmt.Sprintf("  s3: {enabled: true, timeout: 1s, endpoint: %q, bucket: %s, region: us-east-1, "+
			"access_key: \"file:%s\", secret_key: \"file:%s\"}\n", endpoint, fakeS3Bucket, cred, cred), nil
	}
	return "", fmt.Errorf("unknown tier %q", tier)
}

// lowerTier measures first hits of a tier below memory; see the package
// comment.
func (b *bench) lowerTier(ctx context.Context, tier string) error {
	yaml, err := b.tierYAML(tier)
	if err != nil {
		return err
	}
	total := b.cfg.n * len(b.cfg.concs)
	key := func(cell int, i int64) string { return fmt.Sprintf("%s-%d-%d", tier, cell, i) }

	warm, err := b.startGateway(ctx, "gateway-"+tier+"-warm", yaml)
	if err != nil {
		return err
	}
	logf("%s tier: caching %d distinct requests", tier, total)
	fill := &load{conc: 4, count: int64(total), check: servedBy("miss", ""),
		request: func(i int64) *http.Request {
			return b.chat(warm, key(int(i)/b.cfg.n, i%int64(b.cfg.n)), 16)
		}}
	if r := fill.run(ctx); r.Errs > 0 {
		warm.p.Stop()
		return fmt.Errorf("warming: %d errors, first: %s", r.Errs, r.FirstErr)
	}
	err = waitTierSets(ctx, warm, tier, total)
	warm.p.Stop() // SIGTERM: the disk tier closes cleanly
	if err != nil {
		return err
	}

	g, err := b.startGateway(ctx, "gateway-"+tier, yaml)
	if err != nil {
		return err
	}
	defer g.p.Stop()
	if tier == "redis" {
		defer purge(g)
	}
	for cell, c := range b.cfg.concs {
		logf("%s tier c=%d: %d first hits", tier, c, b.cfg.n)
		l := &load{conc: c, count: int64(b.cfg.n), watchPID: g.p.PID(), watchCore: b.cfg.proxyCPU, tck: b.tck,
			prime:   func() *http.Request { return b.chat(g, "prime", 16) },
			request: func(i int64) *http.Request { return b.chat(g, key(cell, i), 16) },
			check:   servedBy("hit", tier)}
		b.rows = append(b.rows, row{tier, "first hit of a distinct request", c, l.run(ctx)})
	}
	return nil
}

// tierStats is one entry of GET /admin/cache.
type tierStats struct {
	Tier     string
	Entries  int64
	Bytes    int64
	Sets     uint64
	Errors   uint64
	Dropped  uint64
	Timeouts uint64
}

func stats(g *gateway) (map[string]tierStats, error) {
	resp, err := http.Get(g.base + "/admin/cache")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var v struct{ Data []tierStats }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		return nil, fmt.Errorf("/admin/cache: %w", err)
	}
	m := map[string]tierStats{}
	for _, s := range v.Data {
		m[s.Tier] = s
	}
	return m, nil
}

// waitTierSets waits until tier has stored n entries (writes below memory
// are asynchronous), failing fast when writes were dropped or failed.
func waitTierSets(ctx context.Context, g *gateway, tier string, n int) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		m, err := stats(g)
		if err != nil {
			return err
		}
		s := m[tier]
		switch {
		case s.Sets >= uint64(n):
			return nil
		case s.Dropped > 0 || s.Errors > 0:
			return fmt.Errorf("%s tier: %d writes dropped, %d errors while warming (%d stored)", tier, s.Dropped, s.Errors, s.Sets)
		case time.Now().After(deadline):
			return fmt.Errorf("%s tier: %d of %d entries stored after 60s", tier, s.Sets, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// purge deletes every cached entry through the gateway (all its tiers).
func purge(g *gateway) {
	req, _ := http.NewRequest(http.MethodDelete, g.base+"/admin/cache", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench/cache %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
