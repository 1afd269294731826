// Command cpu measures what one request costs the proxy's own core: dsgate
// bare, with each pipeline stage switched on alone, and with the full
// pipeline, beside nginx (one worker) in the same run. The proxy under
// test is alone on one core (taskset); wrk and a minimal mock upstream
// share the other, so the proxy's core is the bottleneck. See
// bench/RESULTS.md, "CPU per request against nginx (issue 22)".
//
//	go build -o /tmp/benchcpu ./bench/cpu && /tmp/benchcpu -bin /tmp/dsgate -out /tmp/cpu.md
//
// Everything listens on and talks to 127.0.0.1 only; every process it
// starts dies with it, and it stops by itself after the last cell.
package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

//go:embed wrk.lua
var wrkLua string

type options struct {
	bin, before, out, pprofDir, nginx, wrk string
	pprofMode                              string   // nonstream or stream
	beforeDrop                             []string // top-level config keys the -before binary does not know
	dur, warm, sysDur                      time.Duration
	streamTargets                          []string
	rounds                                 int
	conc, stageConc                        []int
	modes, targets, main                   []string
	proxyCPU, loadCPU                      int
	syscalls                               bool
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "-mock" {
		log.Fatal(serveMock(os.Args[2]))
	}
	if len(os.Args) == 4 && os.Args[1] == "-goproxy" {
		log.Fatal(serveGoProxy(os.Args[2], os.Args[3]))
	}
	if len(os.Args) == 4 && os.Args[1] == "-rawproxy" {
		log.Fatal(serveRawProxy(os.Args[2], os.Args[3]))
	}
	var o options
	var conc, stageConc, modes, targets, mainT string
	flag.StringVar(&o.bin, "bin", "", "dsgate binary (empty: build ./cmd/dsgate from the working directory)")
	flag.StringVar(&o.before, "before", "", "another dsgate binary (an older commit): targets named STAGE-before (bare-before, full-before, ...) run it, interleaved with the others")
	var beforeDrop string
	flag.StringVar(&beforeDrop, "before-drop", "", "comma-separated top-level config keys left out of the -before binary's configs (one older than the key, e.g. pricing before issue 16)")
	flag.StringVar(&o.out, "out", "", "write the Markdown report here too")
	flag.StringVar(&o.pprofDir, "pprof", "", "after the rounds, take CPU and allocation profiles of every dsgate target (c=64, -pprof-mode) into this directory")
	flag.StringVar(&o.pprofMode, "pprof-mode", "nonstream", "the mode the -pprof profiles are taken in: nonstream or stream")
	flag.StringVar(&o.nginx, "nginx", "/usr/sbin/nginx", "nginx binary (empty: no nginx)")
	flag.StringVar(&o.wrk, "wrk", "wrk", "wrk binary")
	flag.DurationVar(&o.dur, "d", 5*time.Second, "measured window per cell")
	flag.DurationVar(&o.warm, "warmup", time.Second, "warm-up per cell (not measured)")
	flag.DurationVar(&o.sysDur, "syscall-d", 2*time.Second, "window of each cell of the syscall pass")
	var streamT string
	flag.StringVar(&streamT, "stream-targets", "", "targets measured in stream mode (empty: all)")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds, the targets in reverse order in even ones (use an even number to compare two); the report shows medians")
	flag.StringVar(&conc, "c", "1,16,64", "concurrencies of the main targets")
	flag.StringVar(&stageConc, "stage-c", "64", "concurrencies of the single-stage targets")
	flag.StringVar(&modes, "modes", "nonstream,stream", "nonstream and/or stream")
	flag.StringVar(&targets, "targets", "direct,nginx,goproxy,bare,metrics,accesslog,audit,cache,cost,auth,limits,full", "targets to measure")
	flag.StringVar(&mainT, "main", "direct,nginx,goproxy,bare,full", "targets measured at every -c (the others at -stage-c)")
	flag.IntVar(&o.proxyCPU, "proxy-cpu", 0, "the core of the proxy under test")
	flag.IntVar(&o.loadCPU, "load-cpu", 1, "the core of wrk and the mock upstream")
	flag.BoolVar(&o.syscalls, "syscalls", true, "count syscalls per request with perf stat in a separate pass")
	flag.Parse()
	if beforeDrop != "" {
		o.beforeDrop = strings.Split(beforeDrop, ",")
	}
	o.conc, o.stageConc = ints(conc), ints(stageConc)
	if streamT != "" {
		o.streamTargets = strings.Split(streamT, ",")
	}
	o.modes, o.targets, o.main = strings.Split(modes, ","), strings.Split(targets, ","), strings.Split(mainT, ",")
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

// roundOrder is the order of the targets in round r: as given in odd
// rounds, reversed in even ones. In a fixed order the later of two
// targets measured the same binary faster, round after round (the
// twenty-first session's A/B in bench/RESULTS.md: 7-15% in three rounds
// of three, the other way with the binaries swapped); alternating gives
// every target each place in turn, so an even number of rounds is fair.
func roundOrder(order []*target, r int) []*target {
	if r%2 == 1 {
		return order
	}
	rev := slices.Clone(order)
	slices.Reverse(rev)
	return rev
}

func ints(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			log.Fatalf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out
}

// target is one thing wrk loads: the mock directly, nginx or a gateway.
type target struct {
	name, addr string
	watch      int    // the process whose CPU is measured (0: none)
	pprof      string // the gateway's pprof address
	key        string // API key to send
	proc       *benchkit.Proc
}

func run(o options) error {
	ctx := context.Background()
	if err := benchkit.PinSelf(o.loadCPU); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "dsgate-benchcpu-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.bin == "" {
		if o.bin, err = benchkit.BuildDsgate(ctx, dir); err != nil {
			return err
		}
	}
	// The binaries run from copies (see benchkit.RunCopy).
	if o.bin, err = benchkit.RunCopy(o.bin, dir, "dsgate-run"); err != nil {
		return err
	}
	if o.before != "" {
		if o.before, err = benchkit.RunCopy(o.before, dir, "dsgate-before"); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	luaPath, err := writeFile(dir, "bench.lua", wrkLua)
	if err != nil {
		return err
	}
	var procs []*benchkit.Proc
	defer func() {
		for _, p := range procs {
			p.Stop()
		}
	}()

	mockAddr, _ := benchkit.FreeAddr()
	os.Setenv("GOMAXPROCS", "1")
	mock, err := benchkit.StartPinned(dir, "mock", o.loadCPU, self, "-mock", mockAddr)
	if err != nil {
		return err
	}
	procs = append(procs, mock)
	if err := mock.WaitHTTP(ctx, "http://"+mockAddr+"/health"); err != nil {
		return err
	}
	os.Unsetenv("GOMAXPROCS")

	kek := make([]byte, 32)
	rand.Read(kek)
	os.Setenv("BENCH_KEK", hex.EncodeToString(kek))
	keyOut, err := exec.Command(o.bin, "keys", "generate").Output()
	if err != nil {
		return fmt.Errorf("dsgate keys generate: %w", err)
	}
	apiKey := strings.TrimSpace(string(keyOut))
	os.Setenv("BENCH_ADMIN_KEY", apiKey)

	byName := map[string]*target{}
	var order []*target
	for _, name := range o.targets {
		t, err := startTarget(ctx, o, dir, name, mockAddr, apiKey)
		if err != nil {
			return err
		}
		if t.proc != nil {
			procs = append(procs, t.proc)
		}
		byName[name] = t
		order = append(order, t)
	}
	for _, t := range order {
		if err := smoke(t); err != nil {
			return err
		}
	}

	started := time.Now().UTC()
	load0, _ := os.ReadFile("/proc/loadavg")
	var cells []cell
	for r := 1; r <= o.rounds; r++ {
		log.Printf("round %d of %d", r, o.rounds)
		for _, mode := range o.modes {
			for _, c := range allConc(o) {
				for _, t := range roundOrder(order, r) {
					if !o.measures(t.name, mode, c) {
						continue
					}
					res, err := runCell(o, dir, luaPath, mockAddr, t, mode, c, r, false)
					if err != nil {
						return err
					}
					cells = append(cells, res)
				}
			}
		}
	}
	var sys []cell
	if o.syscalls {
		log.Printf("syscall pass (perf stat)")
		for _, mode := range o.modes {
			for _, c := range allConc(o) {
				for _, t := range order {
					// The older binary's syscalls are not counted again.
					if t.watch == 0 || !o.measures(t.name, mode, c) || strings.HasSuffix(t.name, "-before") {
						continue
					}
					res, err := runCell(o, dir, luaPath, mockAddr, t, mode, c, 0, true)
					if err != nil {
						return err
					}
					sys = append(sys, res)
				}
			}
		}
	}
	if o.pprofDir != "" {
		if err := profiles(o, dir, luaPath, mockAddr, byName); err != nil {
			return err
		}
	}
	rss := map[string]memory{}
	for _, t := range order {
		if t.watch != 0 {
			rss[t.name] = residentMemory(t.watch)
		}
	}
	load1, _ := os.ReadFile("/proc/loadavg")
	rep := report(o, cells, sys, rss, started, strings.TrimSpace(string(load0)), strings.TrimSpace(string(load1)))
	fmt.Print(rep)
	if o.out != "" {
		return os.WriteFile(o.out, []byte(rep), 0o644)
	}
	return nil
}

func allConc(o options) []int {
	seen := map[int]bool{}
	var out []int
	for _, c := range append(append([]int{}, o.conc...), o.stageConc...) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// measures reports whether target name runs in mode at concurrency c.
func (o options) measures(name, mode string, c int) bool {
	if mode == "stream" && o.streamTargets != nil && !slices.Contains(o.streamTargets, name) {
		return false
	}
	list := o.stageConc
	for _, m := range o.main {
		if m == name {
			list = o.conc
		}
	}
	for _, x := range list {
		if x == c {
			return true
		}
	}
	return false
}

func startTarget(ctx context.Context, o options, dir, name, mockAddr, apiKey string) (*target, error) {
	switch name {
	case "direct":
		return &target{name: name, addr: mockAddr}, nil
	case "goproxy", "rawproxy":
		addr, _ := benchkit.FreeAddr()
		self, _ := os.Executable()
		p, err := benchkit.StartPinned(dir, name, o.proxyCPU, self, "-"+name, addr, mockAddr)
		if err != nil {
			return nil, err
		}
		if err := p.WaitHTTP(ctx, "http://"+addr+"/health"); err != nil {
			return nil, err
		}
		return &target{name: name, addr: addr, watch: p.PID(), proc: p}, nil
	case "nginx":
		addr, _ := benchkit.FreeAddr()
		ndir := filepath.Join(dir, "nginx")
		os.MkdirAll(ndir, 0o755)
		conf, err := writeFile(dir, "nginx.conf", nginxConf(o.nginx, ndir, addr, mockAddr))
		if err != nil {
			return nil, err
		}
		p, err := benchkit.StartPinned(dir, "nginx", o.proxyCPU, o.nginx, "-e", filepath.Join(ndir, "nginx-error.log"), "-c", conf, "-p", ndir)
		if err != nil {
			return nil, err
		}
		if err := p.WaitHTTP(ctx, "http://"+addr+"/health"); err != nil {
			return nil, err
		}
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", p.PID(), p.PID()))
		worker, err := strconv.Atoi(strings.Fields(string(kids) + " x")[0])
		if err != nil {
			return nil, fmt.Errorf("nginx worker not found")
		}
		return &target{name: name, addr: addr, watch: worker, proc: p}, nil
	}
	bin := o.bin
	stageName := name
	var drop []string
	if base, ok := strings.CutSuffix(name, "-before"); ok && o.before != "" {
		bin, stageName, drop = o.before, base, o.beforeDrop
	}
	for _, s := range stages {
		if s.name != stageName {
			continue
		}
		addr, _ := benchkit.FreeAddr()
		pp, _ := benchkit.FreeAddr()
		sdir := filepath.Join(dir, name)
		os.MkdirAll(sdir, 0o755)
		cfg, err := writeFile(sdir, "dsgate.yaml", s.config(&stageEnv{dir: sdir, listen: addr, pprof: pp, upstream: mockAddr, drop: drop}))
		if err != nil {
			return nil, err
		}
		p, err := benchkit.StartPinned(sdir, "dsgate", o.proxyCPU, bin, "serve", "--config", cfg)
		if err != nil {
			return nil, err
		}
		if err := p.WaitHTTP(ctx, "http://"+addr+"/readyz"); err != nil {
			return nil, err
		}
		t := &target{name: name, addr: addr, watch: p.PID(), pprof: pp, proc: p}
		if s.auth {
			t.key = apiKey
		}
		if s.console {
			if err := viewConsole(ctx, addr, apiKey, time.Second); err != nil {
				return nil, err
			}
		}
		return t, nil
	}
	return nil, fmt.Errorf("unknown target %q", name)
}

// smoke checks that a target answers a request and a stream in full
// before anything is measured.
func smoke(t *target) error {
	for _, stream := range []bool{false, true} {
		body := fmt.Sprintf(`{"model":"deepseek-chat","messages":[{"role":"user","content":"smoke"}],"max_tokens":16,"stream":%v}`, stream)
		req, _ := http.NewRequest(http.MethodPost, "http://"+t.addr+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if t.key != "" {
			req.Header.Set("Authorization", "Bearer "+t.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return fmt.Errorf("%s: %w", t.name, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// A stream's usage chunk goes only to clients that ask for it
		// (stream_options.include_usage), so streams are checked for their
		// events and the end.
		ok := resp.StatusCode == 200 && strings.Contains(string(b), `"usage"`)
		if stream {
			ok = resp.StatusCode == 200 && strings.Contains(string(b), "data: [DONE]") && strings.Count(string(b), "data: ") >= 20
		}
		if !ok {
			return fmt.Errorf("%s (stream %v): answer %d %q", t.name, stream, resp.StatusCode, b)
		}
	}
	return nil
}
