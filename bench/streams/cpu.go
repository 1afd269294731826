package main

import (
	"context"
	"fmt"
	"log"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

// The CPU phase streams closed-loop at f.conc through every target, with
// answers of 2 and of 20 chunks, in interleaved rounds. The proxy's CPU
// time per stream at both lengths gives the cost per event (the slope)
// and per request (the rest).

var cpuLengths = []int{2, 20}

type cpuCell struct {
	target  string
	chunks  int
	streams int
	errs    int
	cpu     time.Duration
	window  time.Duration
}

func (c cpuCell) perStream() float64 {
	if c.streams == 0 {
		return 0
	}
	return float64(c.cpu.Microseconds()) / float64(c.streams)
}

func runCPU(ctx context.Context, f *flags) error {
	mock, err := startMock(ctx, f, 20, 0)
	if err != nil {
		return err
	}
	defer mock.proc.Stop()
	proxies := map[string]*proxy{"direct": mock}
	for _, t := range f.targets {
		if t == "direct" {
			continue
		}
		p, err := startProxy(ctx, f, t, mock.addr, 4096)
		if err != nil {
			return err
		}
		defer p.proc.Stop()
		proxies[t] = p
	}
	tck := benchkit.ClkTck()
	cells := map[string][]cpuCell{}
	for round := 1; round <= f.rounds; round++ {
		for _, t := range f.targets {
			for _, n := range cpuLengths {
				c := cpuRun(f, proxies[t], n, tck)
				log.Printf("round %d %s %d chunks: %d streams (%d errors) %.1f µs CPU/stream", round, t, n, c.streams, c.errs, c.perStream())
				key := fmt.Sprintf("%s/%d", t, n)
				cells[key] = append(cells[key], c)
			}
		}
	}
	printCPU(f, cells)
	return nil
}

// cpuRun loads p for warm-up plus the window and measures the window.
func cpuRun(f *flags, p *proxy, chunks, tck int) cpuCell {
	c := cpuCell{target: p.name, chunks: chunks}
	client := benchkit.NewLocalClient(f.conc)
	defer client.CloseIdleConnections()
	var measuring atomic.Bool
	var streams, errs atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var id atomic.Int64
	for range f.conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, _, err := streamOnce(client, p, int(id.Add(1)), chunks)
				if measuring.Load() {
					if err != nil {
						errs.Add(1)
					} else {
						streams.Add(1)
					}
				}
			}
		}()
	}
	time.Sleep(f.warmup)
	cpu0, t0 := p.cpu(tck), time.Now()
	measuring.Store(true)
	time.Sleep(f.duration)
	measuring.Store(false)
	c.cpu, c.window = p.cpu(tck)-cpu0, time.Since(t0)
	c.streams, c.errs = int(streams.Load()), int(errs.Load())
	close(stop)
	wg.Wait()
	return c
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func printCPU(f *flags, cells map[string][]cpuCell) {
	fmt.Printf("\nclosed loop at c=%d, %d rounds of %v (+%v warm-up) per cell, interleaved; medians over rounds\n\n", f.conc, f.rounds, f.duration, f.warmup)
	fmt.Println("| target | streams/s (20 chunks) | CPU µs per 2-chunk stream | CPU µs per 20-chunk stream | µs per event (slope) | µs per request (intercept) | ÷ nginx (20-chunk) |")
	fmt.Println("|---|---|---|---|---|---|---|")
	med := func(t string, n int) (cpu, rate float64, errs int) {
		var cs, rs []float64
		for _, c := range cells[fmt.Sprintf("%s/%d", t, n)] {
			cs = append(cs, c.perStream())
			rs = append(rs, float64(c.streams)/c.window.Seconds())
			errs += c.errs
		}
		return median(cs), median(rs), errs
	}
	nginx20, _, _ := med("nginx", 20)
	for _, t := range f.targets {
		c2, _, e2 := med(t, 2)
		c20, rate, e20 := med(t, 20)
		slope := (c20 - c2) / 18
		ratio := "-"
		if nginx20 > 0 {
			ratio = fmt.Sprintf("%.2f", c20/nginx20)
		}
		name := t
		if t == "direct" {
			name = "direct (the mock's own CPU)"
		}
		errs := ""
		if e2+e20 > 0 {
			errs = fmt.Sprintf(" (%d errors)", e2+e20)
		}
		fmt.Printf("| %s%s | %.0f | %.1f | %.1f | %.2f | %.1f | %s |\n", name, errs, rate, c2, c20, slope, c2-2*slope, ratio)
	}
}
