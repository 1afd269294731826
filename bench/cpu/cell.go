package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

// cell is one measured wrk run against one target.
type cell struct {
	Target   string  `json:"target"`
	Mode     string  `json:"mode"`
	C        int     `json:"c"`
	Round    int     `json:"round"`
	Requests int64   `json:"requests"`
	RPS      float64 `json:"rps"`
	CPUUs    float64 `json:"cpu_us_per_req"` // -1: not measured
	Allocs   float64 `json:"allocs_per_req"` // -1: not measured
	Syscalls float64 `json:"syscalls_per_req"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	Dials    int64   `json:"upstream_dials"`
	// SteadyDials are the dials after the window's first second: the
	// first second re-dials the upstream connections of the requests the
	// previous wrk run left in flight, which a proxy cancels with their
	// clients (dsgate does: a client gone stops the generation).
	SteadyDials int64   `json:"upstream_dials_after_1s"`
	Errors      int64   `json:"errors"`
	OtherPct    float64 `json:"other_load_on_proxy_core_pct"`
	ProxyBusy   float64 `json:"proxy_core_own_pct"`
}

// wrkResult is the line wrk.lua prints when done.
type wrkResult struct {
	Requests   int64 `json:"requests"`
	DurationUs int64 `json:"duration_us"`
	Connect    int64 `json:"connect"`
	Read       int64 `json:"read"`
	Write      int64 `json:"write"`
	Status     int64 `json:"status"`
	Timeout    int64 `json:"timeout"`
	P50        int64 `json:"p50_us"`
	P99        int64 `json:"p99_us"`
}

func wrkArgs(o options, lua, addr string, c int, d time.Duration) []string {
	secs := max(int(d.Round(time.Second)/time.Second), 1)
	return []string{"-c", strconv.Itoa(o.loadCPU), o.wrk, "-t1", "-c", strconv.Itoa(c), "-d", fmt.Sprintf("%ds", secs),
		"--timeout", "10s", "-s", lua, "http://" + addr + "/v1/chat/completions"}
}

var runSeq int

// runWrk runs wrk pinned to the load core and returns its result line.
func runWrk(o options, lua string, t *target, mode string, c int, d time.Duration) (wrkResult, error) {
	runSeq++
	cmd := exec.Command("taskset", wrkArgs(o, lua, t.addr, c, d)...)
	stream := "0"
	if mode == "stream" {
		stream = "1"
	}
	cmd.Env = append(os.Environ(), "BENCH_STREAM="+stream, "BENCH_KEY="+t.key,
		fmt.Sprintf("BENCH_RUN=%d-%d", time.Now().UnixNano(), runSeq))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk %s %s c=%d: %w\n%s", t.name, mode, c, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
			var r wrkResult
			return r, json.Unmarshal([]byte(rest), &r)
		}
	}
	return wrkResult{}, fmt.Errorf("wrk %s: no result line:\n%s", t.name, out)
}

// runCell warms the target up, then measures one window. With perf set it
// counts the proxy's syscalls instead (perf's own cost makes the CPU
// figures of that pass worthless, so they are not kept).
func runCell(o options, dir, lua, mockAddr string, t *target, mode string, c, round int, perf bool) (cell, error) {
	log.Printf("%s %s c=%d round %d%s", t.name, mode, c, round, map[bool]string{true: " (perf)"}[perf])
	if _, err := runWrk(o, lua, t, mode, c, o.warm); err != nil {
		return cell{}, err
	}
	tck := benchkit.ClkTck()
	m0 := mallocs(t)
	conns0 := mockConns(mockAddr)
	core0, _ := benchkit.ReadCore(o.proxyCPU)
	cpu0 := cpuOf(t, tck)
	var pc *exec.Cmd
	var perfOut bytes.Buffer
	if perf {
		pc = exec.Command("perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "-p", strconv.Itoa(t.watch))
		pc.Stderr = &perfOut
		if err := pc.Start(); err != nil {
			return cell{}, fmt.Errorf("perf: %w", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	window := o.dur
	if perf {
		window = o.sysDur
	}
	steady := make(chan int64, 1)
	go func() {
		time.Sleep(time.Second)
		steady <- mockConns(mockAddr)
	}()
	r, err := runWrk(o, lua, t, mode, c, window)
	if err != nil {
		return cell{}, err
	}
	cpu1 := cpuOf(t, tck)
	core1, _ := benchkit.ReadCore(o.proxyCPU)
	conns1 := mockConns(mockAddr)
	m1 := mallocs(t)
	res := cell{Target: t.name, Mode: mode, C: c, Round: round, Requests: r.Requests,
		RPS:   float64(r.Requests) / (float64(r.DurationUs) / 1e6),
		P50Ms: float64(r.P50) / 1000, P99Ms: float64(r.P99) / 1000,
		Errors: r.Connect + r.Read + r.Write + r.Status + r.Timeout,
		Dials:  conns1 - conns0, SteadyDials: conns1 - <-steady, CPUUs: -1, Allocs: -1, Syscalls: -1}
	if perf {
		pc.Process.Signal(syscall.SIGINT)
		pc.Wait()
		res.Syscalls = float64(perfCount(perfOut.String())) / float64(max(r.Requests, 1))
		return res, nil
	}
	if t.watch != 0 && r.Requests > 0 {
		res.CPUUs = float64((cpu1 - cpu0).Microseconds()) / float64(r.Requests)
		total := float64(core1.Total - core0.Total)
		if total > 0 {
			own := (cpu1 - cpu0).Seconds() * float64(tck)
			res.ProxyBusy = 100 * own / total
			res.OtherPct = max(0, 100*(float64(core1.Busy-core0.Busy)-own)/total)
		}
	}
	if m0 >= 0 && m1 >= 0 && r.Requests > 0 {
		res.Allocs = float64(m1-m0) / float64(r.Requests)
	}
	return res, nil
}

func cpuOf(t *target, tck int) time.Duration {
	if t.watch == 0 {
		return 0
	}
	d, _ := benchkit.CPUTime(t.watch, tck)
	return d
}

// mallocs is the gateway's runtime.MemStats.Mallocs, from the heap
// profile's text form; -1 for targets without pprof.
func mallocs(t *target) int64 {
	if t.pprof == "" {
		return -1
	}
	resp, err := http.Get("http://" + t.pprof + "/debug/pprof/heap?debug=1")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "# Mallocs = "); ok {
			n, _ := strconv.ParseInt(rest, 10, 64)
			io.Copy(io.Discard, resp.Body)
			return n
		}
	}
	return -1
}

func mockConns(addr string) int64 {
	resp, err := http.Get("http://" + addr + "/conns")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	n, _ := strconv.ParseInt(string(b), 10, 64)
	return n - 1 // this request's own connection
}

// perfCount reads the count of perf stat's CSV output.
func perfCount(out string) int64 {
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "raw_syscalls:sys_enter") {
			n, _ := strconv.ParseInt(strings.SplitN(line, ",", 2)[0], 10, 64)
			return n
		}
	}
	return 0
}

// memory is a process's resident memory at the end of a run, in MB.
type memory struct {
	peak float64 // VmHWM: the most it was resident at once
	// file is RssFile: pages of mapped files, here the binary's; they are
	// shared and reclaimable, and how much of a binary the kernel maps
	// at once depends on its page cache (76 MB of dsgate, 30-40 resident
	// from its start).
	file float64
}

// residentMemory reads VmHWM and RssFile from /proc.
func residentMemory(pid int) memory {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	var m memory
	mb := func(rest string) float64 {
		kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
		return kb / 1024
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			m.peak = mb(rest)
		} else if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			m.file = mb(rest)
		}
	}
	return m
}

// profiles takes a CPU profile, an allocation profile and a heap snapshot
// of every dsgate target under load (-pprof-mode) at c=64.
func profiles(o options, dir, lua, mockAddr string, byName map[string]*target) error {
	os.MkdirAll(o.pprofDir, 0o755)
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		t := byName[name]
		if t.pprof == "" {
			continue // not dsgate
		}
		for _, kind := range []string{"profile", "allocs", "heap"} {
			log.Printf("pprof %s %s", name, kind)
			done := make(chan error, 1)
			go func() {
				_, err := runWrk(o, lua, t, o.pprofMode, 64, o.dur+2*time.Second)
				done <- err
			}()
			time.Sleep(time.Second)
			query := fmt.Sprintf("seconds=%d", max(int(o.dur/time.Second), 1))
			if kind == "heap" {
				query = "gc=1" // what is live under load, not a window's allocations
			}
			resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/%s?%s", t.pprof, kind, query))
			if err != nil {
				return err
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err := os.WriteFile(filepath.Join(o.pprofDir, name+"-"+o.pprofMode+"-"+kind+".pb.gz"), b, 0o644); err != nil {
				return err
			}
			if err := <-done; err != nil {
				return err
			}
		}
	}
	return nil
}
