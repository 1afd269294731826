package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

func (b *bench) report(w io.Writer, skipped []string) {
	cfg := b.cfg
	fmt.Fprintf(w, "### Response cache hits through the gateway (%s)\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(w, "- gateway alone on CPU %d; simulator (`dsgate sim --ttft 0 --tps 0 --max-tokens 16`), gofakes3 and the load generator on CPU %d\n",
		cfg.proxyCPU, cfg.loadCPU)
	fmt.Fprintf(w, "- memory rows: one temperature-0 request (16-token answer) cached, then repeated for %v after %v warm-up; every answer checked to be a memory hit\n",
		cfg.duration, cfg.warmup)
	fmt.Fprintf(w, "- lower tiers: %d distinct requests per concurrency cached by a warm-up gateway (memory + the tier), then each sent once to a fresh gateway (empty memory): every answer checked to come from that tier (tier read timeout 1s)\n",
		cfg.n)
	if len(skipped) > 0 {
		fmt.Fprintf(w, "- skipped: %s\n", strings.Join(skipped, ", "))
	}
	fmt.Fprintf(w, "- others on CPU %d: the share of the gateway's core that other processes used during the cell (the noise in it)\n", cfg.proxyCPU)
	fmt.Fprintf(w, "- load average at the end: %s\n\n", loadavg())
	fmt.Fprintf(w, "| served by | requests | c | answers | req/s | p50 ms | p99 ms | mean ms | gateway CPU µs/req | others on CPU %d | errors |\n", cfg.proxyCPU)
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range b.rows {
		errs := fmt.Sprint(r.res.Errs)
		if r.res.FirstErr != "" {
			errs += " (first: " + r.res.FirstErr + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.0f | %.3f | %.3f | %.3f | %.1f | %.0f%% | %s |\n", r.tier, r.how, r.c, r.res.OK,
			r.res.RPS(), ms(r.res.Pct(50)), ms(r.res.Pct(99)), ms(r.res.Mean()), r.res.CPUPerReq(), r.res.OthersPct(), errs)
	}
	if s := b.rss; s != nil {
		fmt.Fprintf(w, "\nGateway memory with a full memory tier (memory.max_bytes %d MiB, filled with %d distinct answers of max_tokens %d in %v):\n\n",
			s.maxBytes>>20, s.requests, cfg.fillTokens, s.took.Round(time.Millisecond))
		fmt.Fprintln(w, "| entries | cached bytes (tier's weight) | VmRSS before | VmRSS full | VmHWM |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|---:|")
		fmt.Fprintf(w, "| %d | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB |\n", s.entries, float64(s.bytes)/(1<<20),
			float64(s.before)/1024, float64(s.after)/1024, float64(s.hw)/1024)
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}
