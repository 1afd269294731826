package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

type cellKey struct {
	mode, target string
	c            int
}

// median of the values v picks from the cells, skipping unmeasured (< 0).
func median(cs []cell, v func(cell) float64) float64 {
	var xs []float64
	for _, c := range cs {
		if x := v(c); x >= 0 {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return -1
	}
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

func num(x float64, format string) string {
	if x < 0 {
		return "—"
	}
	return fmt.Sprintf(format, x)
}

func ratio(a, b float64) string {
	if a < 0 || b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func report(o options, cells, sys []cell, rss map[string]memory, started time.Time, load0, load1 string) string {
	groups := map[cellKey][]cell{}
	for _, c := range cells {
		k := cellKey{c.Mode, c.Target, c.C}
		groups[k] = append(groups[k], c)
	}
	sysBy := map[cellKey]float64{}
	for _, c := range sys {
		sysBy[cellKey{c.Mode, c.Target, c.C}] = c.Syscalls
	}
	var b strings.Builder
	rev, _ := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	fmt.Fprintf(&b, "### bench/cpu run %s\n\n", started.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- command: `%s`\n", strings.Join(os.Args, " "))
	fmt.Fprintf(&b, "- dsgate: %s (work tree HEAD %s)\n", o.bin, strings.TrimSpace(string(rev)))
	if o.before != "" {
		fmt.Fprintf(&b, "- targets named *-before: %s\n", o.before)
	}
	fmt.Fprintf(&b, "- %d interleaved rounds (every target of a cell back to back, then the next cell; the targets in reverse order in even rounds), medians; %s measured after %s warm-up; wrk -t1 and the mock upstream (GOMAXPROCS=1) on CPU %d, the proxy alone on CPU %d\n",
		o.rounds, o.dur, o.warm, o.loadCPU, o.proxyCPU)
	fmt.Fprintf(&b, "- load average at start %s, at end %s\n\n", load0, load1)
	fmt.Fprintf(&b, "| mode | c | target | req/s | ÷ nginx | CPU µs/req | ÷ nginx | allocs/req | syscalls/req | p50 ms | added p50 ms | ÷ nginx's | upstream dials (after the first second) | errors | proxy core: own %% / others %% |\n")
	fmt.Fprintf(&b, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, mode := range o.modes {
		for _, c := range allConc(o) {
			ng := groups[cellKey{mode, "nginx", c}]
			dir := groups[cellKey{mode, "direct", c}]
			ngRPS, ngCPU := median(ng, func(x cell) float64 { return x.RPS }), median(ng, func(x cell) float64 { return x.CPUUs })
			dirP50 := median(dir, func(x cell) float64 { return x.P50Ms })
			ngAdded := -1.0
			if len(ng) > 0 && dirP50 >= 0 {
				ngAdded = median(ng, func(x cell) float64 { return x.P50Ms }) - dirP50
			}
			for _, t := range o.targets {
				g := groups[cellKey{mode, t, c}]
				if len(g) == 0 {
					continue
				}
				rps := median(g, func(x cell) float64 { return x.RPS })
				cpu := median(g, func(x cell) float64 { return x.CPUUs })
				p50 := median(g, func(x cell) float64 { return x.P50Ms })
				added := -1.0
				if dirP50 >= 0 && t != "direct" {
					added = p50 - dirP50
				}
				sc, ok := sysBy[cellKey{mode, t, c}]
				if !ok {
					sc = -1
				}
				errs := 0.0
				for _, x := range g {
					errs += float64(x.Errors)
				}
				fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %s / %s |\n",
					mode, c, t, num(rps, "%.0f"), ratio(rps, ngRPS), num(cpu, "%.1f"), ratio(cpu, ngCPU),
					num(median(g, func(x cell) float64 { return x.Allocs }), "%.1f"), num(sc, "%.1f"),
					num(p50, "%.3f"), num(added, "%.3f"), ratio(added, ngAdded),
					num(median(g, func(x cell) float64 { return float64(x.Dials) }), "%.0f")+" ("+
						num(median(g, func(x cell) float64 { return float64(x.SteadyDials) }), "%.0f")+")", errs,
					num(median(g, func(x cell) float64 { return x.ProxyBusy }), "%.0f"), num(median(g, func(x cell) float64 { return x.OtherPct }), "%.0f"))
			}
		}
	}
	fmt.Fprintf(&b, "\nPeak RSS (VmHWM over the whole run; in brackets RssFile at the end, the binary's mapped pages):")
	for _, t := range o.targets {
		if v, ok := rss[t]; ok {
			fmt.Fprintf(&b, " %s %.1f MB (%.1f);", t, v.peak, v.file)
		}
	}
	b.WriteString("\n\nStages: ")
	for _, s := range stages {
		fmt.Fprintf(&b, "**%s**: %s. ", s.name, s.what)
	}
	b.WriteString("\n\n<details><summary>raw cells (JSON lines)</summary>\n\n```\n")
	for _, c := range append(cells, sys...) {
		j, _ := json.Marshal(c)
		b.Write(j)
		b.WriteByte('\n')
	}
	b.WriteString("```\n</details>\n")
	return b.String()
}
