package main

import (
	"context"
	"fmt"
	"log"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

// openResult is one target at one number of concurrent slow streams.
type openResult struct {
	target                string
	n, ok, errs           int
	firstErr              string
	baseRSS, openRSS, hwm int64
	openAtSample          int
	baseG, openG          int
	mean, ttfb, p99       time.Duration
	mem                   string // dsgate's runtime.MemStats with every stream open
}

// runOpen opens N concurrent slow streams through each target, one target
// at a time, each on a freshly started proxy.
func runOpen(ctx context.Context, f *flags) error {
	mock, err := startMock(ctx, f, f.chunks, f.interval)
	if err != nil {
		return err
	}
	defer mock.proc.Stop()
	var results []openResult
	for _, n := range f.streams {
		for _, t := range f.targets {
			r, err := openCell(ctx, f, mock, t, n)
			if err != nil {
				return err
			}
			log.Printf("%s n=%d: ok %d errs %d (%s) rss base %.0f MB open %.0f MB peak %.0f MB, %.1f KB/stream, goroutines %d -> %d, mean %v ttfb %v p99 %v",
				t, n, r.ok, r.errs, r.firstErr, mb(r.baseRSS), mb(r.openRSS), mb(r.hwm), perStreamKB(r), r.baseG, r.openG, r.mean, r.ttfb, r.p99)
			if r.mem != "" {
				log.Printf("%s n=%d MemStats with every stream open: %s", t, n, r.mem)
			}
			results = append(results, r)
		}
	}
	printOpen(f, results)
	return nil
}

func openCell(ctx context.Context, f *flags, mock *proxy, target string, n int) (openResult, error) {
	r := openResult{target: target, n: n}
	p := mock
	if target != "direct" {
		var err error
		if p, err = startProxy(ctx, f, target, mock.addr, 2*n+1024); err != nil {
			return r, err
		}
		defer p.proc.Stop()
	}
	time.Sleep(500 * time.Millisecond)
	r.baseRSS, r.baseG = p.rss(), p.goroutines()
	client := benchkit.NewLocalClient(n)
	client.Timeout = f.interval*time.Duration(f.chunks) + 60*time.Second
	// Start the streams over ramp (f.rampRate a second), so the listen
	// backlog never overflows; all are open from ramp until the first ends.
	ramp := time.Duration(n) * time.Second / time.Duration(f.rampRate)
	var open atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var ttfb time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(start.Add(ramp * time.Duration(i) / time.Duration(n))))
			open.Add(1)
			d, first, err := streamOnce(client, p, i, 0)
			open.Add(-1)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if r.errs == 0 {
					r.firstErr = err.Error()
				}
				r.errs++
				return
			}
			r.ok++
			lat = append(lat, d)
			ttfb += first
		}()
	}
	// Sample when every stream has been open for a while and none has
	// ended: the middle of the window [ramp, stream length].
	length := f.interval * time.Duration(f.chunks)
	time.Sleep(time.Until(start.Add(ramp + (length-ramp)/2)))
	r.openAtSample = int(open.Load())
	r.openRSS, r.openG = p.rss(), p.goroutines()
	if f.profile && p.pprof != "" {
		base := filepath.Join(f.out, fmt.Sprintf("%s-%d", target, n))
		if err := p.saveProfile("heap", base+".heap.pb.gz"); err != nil {
			log.Printf("heap profile: %v", err)
		}
		if err := p.saveProfile("goroutine", base+".goroutine.pb.gz"); err != nil {
			log.Printf("goroutine profile: %v", err)
		}
		r.mem = p.memStats()
	}
	wg.Wait()
	r.hwm = p.hwm()
	client.CloseIdleConnections()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		var sum time.Duration
		for _, d := range lat {
			sum += d
		}
		r.mean = sum / time.Duration(len(lat))
		r.ttfb = ttfb / time.Duration(len(lat))
		r.p99 = lat[len(lat)*99/100]
	}
	return r, nil
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// perStreamKB is the memory an open stream adds: RSS with every stream
// open minus RSS before, per open stream.
func perStreamKB(r openResult) float64 {
	if r.openAtSample == 0 {
		return 0
	}
	return float64(r.openRSS-r.baseRSS) / 1024 / float64(r.openAtSample)
}

func printOpen(f *flags, rs []openResult) {
	fmt.Printf("\n%d chunks at %v per stream; RSS sampled with every stream open (mid-window); peak = VmHWM\n\n", f.chunks, f.interval)
	fmt.Println("| target | streams | ok | errors | RSS before | RSS all open | peak RSS | KB per open stream | goroutines all open | per stream | mean duration | p99 | mean time to first byte | mean after first byte | added vs direct |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	direct := map[int]time.Duration{}
	for _, r := range rs {
		if r.target == "direct" {
			direct[r.n] = r.mean
		}
	}
	for _, r := range rs {
		g, gps := "-", "-"
		if r.openG >= 0 {
			g = fmt.Sprint(r.openG)
			if r.openAtSample > 0 {
				gps = fmt.Sprintf("%.2f", float64(r.openG-r.baseG)/float64(r.openAtSample))
			}
		}
		added := "-"
		if d, ok := direct[r.n]; ok && r.target != "direct" && r.mean > 0 {
			added = fmt.Sprintf("%+.0f ms", float64(r.mean-d)/1e6)
		}
		errs := fmt.Sprint(r.errs)
		if r.errs > 0 {
			errs += " (" + r.firstErr + ")"
		}
		fmt.Printf("| %s | %d | %d | %s | %.0f MB | %.0f MB | %.0f MB | %.1f | %s | %s | %.2f s | %.2f s | %.0f ms | %.2f s | %s |\n",
			r.target, r.n, r.ok, errs, mb(r.baseRSS), mb(r.openRSS), mb(r.hwm), perStreamKB(r), g, gps, r.mean.Seconds(), r.p99.Seconds(), float64(r.ttfb)/1e6, (r.mean - r.ttfb).Seconds(), added)
	}
}
