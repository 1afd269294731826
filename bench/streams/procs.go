package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

// proxy is one target: the mock itself (direct), nginx or dsgate.
type proxy struct {
	name  string
	addr  string // where clients send requests
	pprof string // dsgate's pprof listener
	key   string // bearer key (full pipeline)
	proc  *benchkit.Proc
}

// startMock starts the mock upstream on the load CPU.
func startMock(ctx context.Context, f *flags, chunks int, interval time.Duration) (*proxy, error) {
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cpu := f.loadCPU
	if cpu < 0 {
		cpu = f.proxyCPU ^ 1 // the other core of two; the runner is not pinned
	}
	p, err := benchkit.StartPinned(f.out, "mock", cpu, self, "mock", addr, strconv.Itoa(chunks), interval.String())
	if err != nil {
		return nil, err
	}
	if err := p.WaitHTTP(ctx, "http://"+addr+"/health"); err != nil {
		p.Stop()
		return nil, err
	}
	return &proxy{name: "direct", addr: addr, proc: p}, nil
}

// startProxy starts target (nginx, bare or full) in front of the mock on
// the proxy CPU.
func startProxy(ctx context.Context, f *flags, target, upstream string, conns int) (*proxy, error) {
	addr, err := benchkit.FreeAddr()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(f.out, target)
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	px := &proxy{name: target, addr: addr}
	var args []string
	bin, health := f.dsgate, "http://"+addr+"/readyz"
	if base, ok := strings.CutSuffix(target, "-stack2k"); ok {
		// The same target with goroutines starting at the runtime's
		// smallest stack instead of the average size of stacks scanned
		// by the last GC (Go's adaptive starting stack size).
		os.Setenv("GODEBUG", "adaptivestackstart=0")
		defer os.Unsetenv("GODEBUG")
		target = base
	}
	if base, ok := strings.CutSuffix(target, "-limited"); ok { // before -before: bare-before-limited
		// The same target with a soft memory limit, as the Helm chart and
		// the Kubernetes manifests run it (GOMEMLIMIT from the pod's
		// memory limit). The collector then runs when the process nears
		// the limit instead of at its heap goal, which counts every
		// goroutine stack. From c100bb2 on, dsgate also derives its
		// connection limit from it, so streams past (limit - 64 MiB) /
		// 64 KiB are refused.
		os.Setenv("GOMEMLIMIT", f.memLimit)
		defer os.Unsetenv("GOMEMLIMIT")
		target = base
	}
	if base, ok := strings.CutSuffix(target, "-before"); ok {
		// The same pipeline on the binary given as -dsgate-before.
		if f.dsgateBefore == "" {
			return nil, fmt.Errorf("target %s needs -dsgate-before", target)
		}
		bin, target = f.dsgateBefore, base
	}
	switch target {
	case "nginx":
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(nginxConf(f.nginx, dir, addr, upstream, conns)), 0o600); err != nil {
			return nil, err
		}
		bin, health = f.nginx, "http://"+addr+"/health"
		args = []string{"-e", filepath.Join(dir, "nginx-error.log"), "-c", conf, "-p", dir}
	case "bare", "full":
		if px.pprof, err = benchkit.FreeAddr(); err != nil {
			return nil, err
		}
		if target == "full" {
			if px.key, err = fullEnv(bin); err != nil {
				return nil, err
			}
		}
		conf := filepath.Join(dir, "dsgate.yaml")
		if err := os.WriteFile(conf, []byte(dsgateConfig(dir, addr, px.pprof, upstream, target == "full")), 0o600); err != nil {
			return nil, err
		}
		args = []string{"serve", "--config", conf}
	default:
		return nil, fmt.Errorf("unknown target %q", target)
	}
	if px.proc, err = benchkit.StartPinned(dir, target, f.proxyCPU, bin, args...); err != nil {
		return nil, err
	}
	if err := px.proc.WaitHTTP(ctx, health); err != nil {
		px.proc.Stop()
		return nil, fmt.Errorf("%s: %w\n%s", target, err, px.proc.Tail())
	}
	return px, nil
}

// pids are the processes whose CPU and memory count: nginx's master and
// workers, dsgate's one process.
func (p *proxy) pids() []int {
	pid := p.proc.PID()
	pids := []int{pid}
	if p.name == "nginx" {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		for _, s := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(s); err == nil {
				pids = append(pids, c)
			}
		}
	}
	return pids
}

// rss is the resident memory of the proxy's processes, in bytes.
func (p *proxy) rss() int64 {
	var sum int64
	for _, pid := range p.pids() {
		sum += statusKB(pid, "VmRSS:") << 10
	}
	return sum
}

// hwm is the peak resident memory of the proxy's processes, in bytes.
func (p *proxy) hwm() int64 {
	var sum int64
	for _, pid := range p.pids() {
		sum += statusKB(pid, "VmHWM:") << 10
	}
	return sum
}

func statusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return v
		}
	}
	return 0
}

// cpu is the CPU time of the proxy's processes.
func (p *proxy) cpu(tck int) time.Duration {
	var sum time.Duration
	for _, pid := range p.pids() {
		d, _ := benchkit.CPUTime(pid, tck)
		sum += d
	}
	return sum
}

// goroutines is dsgate's goroutine count from its pprof listener (-1
// for nginx and the mock).
func (p *proxy) goroutines() int {
	if p.pprof == "" {
		return -1
	}
	resp, err := http.Get("http://" + p.pprof + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b := make([]byte, 64)
	n, _ := io.ReadFull(resp.Body, b)
	var g int
	fmt.Sscanf(string(b[:n]), "goroutine profile: total %d", &g)
	return g
}

// saveProfile writes one of dsgate's pprof profiles (heap, goroutine) to
// path.
func (p *proxy) saveProfile(kind, path string) error {
	if p.pprof == "" {
		return nil
	}
	query := ""
	if kind == "heap" {
		// What is live now: without a collection first the profile is
		// the last cycle's, which with idle streams can be seconds old
		// (taken during the ramp, it showed a third of the live heap).
		query = "?gc=1"
	}
	resp, err := http.Get("http://" + p.pprof + "/debug/pprof/" + kind + query)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	_, err = io.Copy(fh, resp.Body)
	return err
}

// memStats is the runtime.MemStats summary of dsgate's heap profile
// page: heap in use, stacks in use, memory obtained from the OS, GC goal.
func (p *proxy) memStats() string {
	if p.pprof == "" {
		return ""
	}
	resp, err := http.Get("http://" + p.pprof + "/debug/pprof/heap?debug=1")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var parts []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range []string{"# HeapInuse = ", "# Stack = ", "# Sys = ", "# NextGC = ", "# HeapIdle = ", "# HeapReleased = "} {
			if strings.HasPrefix(line, k) {
				v, _ := strconv.ParseInt(strings.Fields(strings.TrimPrefix(line, k))[0], 10, 64)
				parts = append(parts, fmt.Sprintf("%s %.1f MB", strings.TrimSuffix(strings.TrimPrefix(k, "# "), " = "), float64(v)/(1<<20)))
			}
		}
	}
	return strings.Join(parts, ", ")
}
