// Command report turns the JSON lines that bench/loadgen printed for each
// cell of the benchmark matrix into Markdown: one table per mode and the
// gateway's targets (throughput against nginx, added latency over direct,
// peak RSS), each marked met or missed. bench/run.sh calls it; it reads
// only its input file.
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// cell is the part of a loadgen result line the report uses.
type cell struct {
	Label       string             `json:"label"`
	Stream      bool               `json:"stream"`
	Concurrency int                `json:"concurrency"`
	WindowS     float64            `json:"window_s"`
	Count       uint64             `json:"count"`
	Errors      uint64             `json:"errors"`
	ErrorKinds  map[string]uint64  `json:"error_kinds"`
	RPS         float64            `json:"rps"`
	P50ms       float64            `json:"p50_ms"`
	P90ms       float64            `json:"p90_ms"`
	P99ms       float64            `json:"p99_ms"`
	Maxms       float64            `json:"max_ms"`
	TTFBp50ms   float64            `json:"ttfb_p50_ms"`
	Conns       int64              `json:"conns"`
	CPUs        float64            `json:"cpu_s"`
	CPUusPerRq  float64            `json:"cpu_us_per_req"`
	PeakRSSKB   int64              `json:"peak_rss_kb"`
	ReadsPerRq  float64            `json:"reads_per_req"`
	WritesPerRq float64            `json:"writes_per_req"`
	WatchError  string             `json:"watch_error"`
	CoreBusyPct map[string]float64 `json:"core_busy_pct"`
	// Runs is how many repeats of the cell there were; the report shows
	// the one with the median throughput.
	Runs int `json:"-"`
}

// layout says which CPU ran what.
type layout struct{ proxyCPU, loadCPU string }

// otherLoadPct is the share of a core above which a cell is marked as
// disturbed by other work on the machine.
const otherLoadPct = 10

// saturatedPct is the share of its core above which a proxy counts as the
// bottleneck of a cell.
const saturatedPct = 90

// Targets from the issue, for a 2-core machine with the proxy on one core.
const (
	minThroughputVsNginx = 0.70 // gateway rps / nginx rps at the highest concurrency
	maxAddedP50VsNginx   = 1.5  // (gateway p50 - direct p50) / (nginx p50 - direct p50) at c=1
	maxPeakRSSMB         = 60.0
)

func main() {
	in := flag.String("in", "", "JSON lines from loadgen, one per cell (label = target name)")
	var lay layout
	flag.StringVar(&lay.proxyCPU, "proxy-cpu", "0", "CPU the proxies were pinned to")
	flag.StringVar(&lay.loadCPU, "load-cpu", "1", "CPU the load generator and simulator were pinned to")
	flag.Parse()
	if *in == "" {
		fmt.Fprintln(os.Stderr, "report: -in is required")
		os.Exit(2)
	}
	f, err := os.Open(*in)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	defer f.Close()
	cells, err := readCells(f)
	if err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
	write(os.Stdout, medians(cells), lay)
}

func readCells(r io.Reader) ([]cell, error) {
	var cells []cell
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" {
			continue
		}
		var c cell
		if err := json.Unmarshal([]byte(t), &c); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		cells = append(cells, c)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(cells) == 0 {
		return nil, errors.New("no cells")
	}
	return cells, nil
}

// medians keeps, for each (target, mode, concurrency) that ran more than
// once (REPEAT in run.sh), the run with the median req/s, in first-seen
// order. Its figures all come from that one run.
func medians(cells []cell) []cell {
	type key struct {
		label  string
		stream bool
		conc   int
	}
	groups := map[key][]cell{}
	var order []key
	for _, c := range cells {
		k := key{c.Label, c.Stream, c.Concurrency}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	out := make([]cell, 0, len(order))
	for _, k := range order {
		g := groups[k]
		slices.SortStableFunc(g, func(a, b cell) int { return cmp.Compare(a.RPS, b.RPS) })
		m := g[(len(g)-1)/2]
		m.Runs = len(g)
		out = append(out, m)
	}
	return out
}

func modeName(stream bool) string {
	if stream {
		return "streaming"
	}
	return "non-streaming"
}

func write(w io.Writer, cells []cell, lay layout) {
	disturbed := false
	if len(cells) > 0 && cells[0].Runs > 1 {
		fmt.Fprintf(w, "\nEach row is the median-throughput run of %d repeats of that cell.\n", cells[0].Runs)
	}
	for _, stream := range []bool{false, true} {
		var rows []cell
		for _, c := range cells {
			if c.Stream == stream {
				rows = append(rows, c)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n### %s\n\n", modeName(stream))
		fmt.Fprintln(w, "| target | c | req/s | p50 ms | p90 ms | p99 ms | max ms | first byte p50 ms | errors | conns | proxy CPU µs/req | proxy syscalls/req read+write | proxy core: proxy / all | load core | proxy peak RSS MB |")
		fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
		for _, c := range rows {
			cpu, sys, own, rss := "—", "—", "—", "—"
			if c.CPUusPerRq > 0 {
				cpu = fmt.Sprintf("%.0f", c.CPUusPerRq)
				sys = fmt.Sprintf("%.1f+%.1f", c.ReadsPerRq, c.WritesPerRq)
			}
			if c.CPUs > 0 && c.WindowS > 0 {
				own = fmt.Sprintf("%.0f%%", c.proxyPct())
			}
			all, load := pct(c.CoreBusyPct, lay.proxyCPU), pct(c.CoreBusyPct, lay.loadCPU)
			if c.disturbed(lay) {
				all += " †"
				disturbed = true
			}
			if c.PeakRSSKB > 0 {
				rss = fmt.Sprintf("%.1f", float64(c.PeakRSSKB)/1024)
			}
			errs := fmt.Sprint(c.Errors)
			if len(c.ErrorKinds) > 0 {
				errs += " " + kinds(c.ErrorKinds)
			}
			fmt.Fprintf(w, "| %s | %d | %.0f | %.3f | %.3f | %.3f | %.2f | %.3f | %s | %d | %s | %s | %s / %s | %s | %s |\n",
				c.Label, c.Concurrency, c.RPS, c.P50ms, c.P90ms, c.P99ms, c.Maxms, c.TTFBp50ms, errs, c.Conns, cpu, sys, own, all, load, rss)
		}
	}
	if disturbed {
		fmt.Fprintf(w, "\n† more than %d%% of the proxy's core went to other processes during the cell (the machine was not quiet): treat the row as noise.\n", otherLoadPct)
	}
	fmt.Fprintln(w, "\n### Targets (gateway against nginx, proxy pinned to one core)")
	fmt.Fprintln(w)
	for _, l := range checks(cells) {
		fmt.Fprintln(w, "- "+l)
	}
}

// proxyPct is the watched proxy's own share of one core over the window.
func (c cell) proxyPct() float64 {
	if c.WindowS <= 0 {
		return 0
	}
	return 100 * c.CPUs / c.WindowS
}

// disturbed reports whether other processes used the proxy's core.
func (c cell) disturbed(lay layout) bool {
	all, ok := c.CoreBusyPct[lay.proxyCPU]
	return ok && all-c.proxyPct() > otherLoadPct
}

func pct(m map[string]float64, cpu string) string {
	v, ok := m[cpu]
	if !ok {
		return "—"
	}
	return fmt.Sprintf("%.0f%%", v)
}

func kinds(m map[string]uint64) string {
	var ks []string
	for k, v := range m {
		ks = append(ks, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(ks)
	return "(" + strings.Join(ks, ", ") + ")"
}

func find(cells []cell, label string, stream bool, conc int) (cell, bool) {
	for _, c := range cells {
		if c.Label == label && c.Stream == stream && c.Concurrency == conc {
			return c, true
		}
	}
	return cell{}, false
}

func verdict(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**missed**"
}

// checks evaluates the targets from the cells present.
func checks(cells []cell) []string {
	var out []string
	maxC, minC := 0, 0
	for _, c := range cells {
		if c.Label == "gateway" && c.Concurrency > maxC {
			maxC = c.Concurrency
		}
		if c.Label == "gateway" && (minC == 0 || c.Concurrency < minC) {
			minC = c.Concurrency
		}
	}
	for _, stream := range []bool{false, true} {
		m := modeName(stream)
		g, okG := find(cells, "gateway", stream, maxC)
		n, okN := find(cells, "nginx", stream, maxC)
		if okG && okN && n.RPS > 0 {
			r := g.RPS / n.RPS
			line := fmt.Sprintf("%s throughput at c=%d: gateway %.0f req/s = %.0f%% of nginx's %.0f (target >= %.0f%%): %s",
				m, maxC, g.RPS, 100*r, n.RPS, 100*minThroughputVsNginx, verdict(r >= minThroughputVsNginx))
			if p := n.proxyPct(); n.CPUs > 0 && p < saturatedPct {
				line += fmt.Sprintf(" (nginx used only %.0f%% of its core: the load core or other load bounded it, so read the capacity line too)", p)
			}
			out = append(out, line)
		}
		if okG && okN && g.CPUusPerRq > 0 && n.CPUusPerRq > 0 {
			out = append(out, fmt.Sprintf("%s capacity of one core from CPU per request at c=%d (the throughput ratio if both proxies were saturated): "+
				"gateway %.0f µs/req ≈ %.0f req/s, nginx %.0f µs/req ≈ %.0f req/s → gateway %.0f%% of nginx",
				m, maxC, g.CPUusPerRq, 1e6/g.CPUusPerRq, n.CPUusPerRq, 1e6/n.CPUusPerRq, 100*n.CPUusPerRq/g.CPUusPerRq))
		}
		g, okG = find(cells, "gateway", stream, minC)
		n, okN = find(cells, "nginx", stream, minC)
		d, okD := find(cells, "direct", stream, minC)
		if okG && okN && okD {
			ag, an := g.P50ms-d.P50ms, n.P50ms-d.P50ms
			line := fmt.Sprintf("%s added p50 at c=%d over direct (%.3f ms): gateway +%.3f ms, nginx +%.3f ms", m, minC, d.P50ms, ag, an)
			if an > 0 {
				line += fmt.Sprintf(" → %.2fx nginx's (target <= %.1fx): %s", ag/an, maxAddedP50VsNginx, verdict(ag/an <= maxAddedP50VsNginx))
			} else {
				line += " → nginx adds nothing measurable; no ratio"
			}
			out = append(out, line)
		}
	}
	var peak int64
	for _, c := range cells {
		if strings.HasPrefix(c.Label, "gateway") && c.PeakRSSKB > peak {
			peak = c.PeakRSSKB
		}
	}
	if peak > 0 {
		mb := float64(peak) / 1024
		out = append(out, fmt.Sprintf("gateway peak RSS (VmHWM over its whole run): %.1f MB (target < %.0f MB): %s", mb, maxPeakRSSMB, verdict(mb < maxPeakRSSMB)))
	}
	for _, stream := range []bool{false, true} {
		a, okA := find(cells, "gateway-accesslog", stream, maxC)
		g, okG := find(cells, "gateway", stream, maxC)
		if okA && okG && g.RPS > 0 {
			out = append(out, fmt.Sprintf("access log on, %s c=%d: %.0f req/s (%+.0f%% against access log off), p50 %.3f ms, CPU %.0f µs/req",
				modeName(stream), maxC, a.RPS, 100*(a.RPS/g.RPS-1), a.P50ms, a.CPUusPerRq))
		}
	}
	var bad []string
	for _, c := range cells {
		if c.Errors > 0 || c.WatchError != "" {
			bad = append(bad, fmt.Sprintf("%s %s c=%d", c.Label, modeName(c.Stream), c.Concurrency))
		}
	}
	if len(bad) > 0 {
		out = append(out, "cells with errors (their figures are suspect): "+strings.Join(bad, "; "))
	}
	return out
}
