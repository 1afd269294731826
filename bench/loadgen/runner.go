package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// result is the one JSON line loadgen prints.
type result struct {
	Label       string            `json:"label,omitempty"`
	URL         string            `json:"url"`
	Stream      bool              `json:"stream"`
	Concurrency int               `json:"concurrency"`
	WarmupS     float64           `json:"warmup_s"`
	WindowS     float64           `json:"window_s"` // measured wall time
	Count       uint64            `json:"count"`    // successful requests in the window
	Errors      uint64            `json:"errors"`   // failed requests in the window
	ErrorKinds  map[string]uint64 `json:"error_kinds,omitempty"`
	RPS         float64           `json:"rps"` // successful requests per second
	P50ms       float64           `json:"p50_ms"`
	P90ms       float64           `json:"p90_ms"`
	P99ms       float64           `json:"p99_ms"`
	Maxms       float64           `json:"max_ms"`
	Meanms      float64           `json:"mean_ms"`
	// Time to the first body byte: for streams the first SSE event.
	TTFBp50ms float64 `json:"ttfb_p50_ms"`
	TTFBp90ms float64 `json:"ttfb_p90_ms"`
	TTFBp99ms float64 `json:"ttfb_p99_ms"`
	Conns     int64   `json:"conns"`      // TCP connections dialled, warm-up included
	Requests  uint64  `json:"requests"`   // all requests finished, warm-up included
	BodyBytes uint64  `json:"body_bytes"` // response body bytes in the window
	// Filled with -watch-pid: CPU time of the watched processes over the
	// window, per successful request, and their summed peak RSS.
	WatchPIDs  []int   `json:"watch_pids,omitempty"`
	CPUs       float64 `json:"cpu_s,omitempty"`
	CPUusPerRq float64 `json:"cpu_us_per_req,omitempty"`
	PeakRSSKB  int64   `json:"peak_rss_kb,omitempty"`
	// Read- and write-family system calls per successful request.
	ReadsPerRq  float64 `json:"reads_per_req,omitempty"`
	WritesPerRq float64 `json:"writes_per_req,omitempty"`
	WatchError  string  `json:"watch_error,omitempty"`
	// Filled with -watch-cores: how busy each listed CPU was over the
	// window, in percent, whoever used it.
	CoreBusyPct map[string]float64 `json:"core_busy_pct,omitempty"`
}

type runner struct {
	cfg    *config
	client *http.Client
	dials  atomic.Int64
	// Measurement window; in count mode end is set when the last ticket
	// finishes.
	start, end time.Time
	tickets    atomic.Int64
}

func newRunner(cfg *config) *runner {
	r := &runner{cfg: cfg}
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy: nil, // never through a proxy from the environment
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
				return nil, fmt.Errorf("refusing to dial %s: only 127.0.0.1", addr)
			}
			r.dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConns:        2*cfg.conc + 16,
		MaxIdleConnsPerHost: 2*cfg.conc + 16,
		// One connection per worker: without a cap the transport may dial a
		// spare while a finished response still hands its connection back.
		MaxConnsPerHost:    cfg.conc,
		IdleConnTimeout:    90 * time.Second,
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
	}
	r.client = &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return r
}

// worker holds everything one closed-loop worker touches, allocated once.
type worker struct {
	lat, ttfb histogram
	errs      map[string]uint64
	nErr      uint64
	requests  uint64
	bytes     uint64
	buf       []byte
	body      bodyReader
	lastEnd   time.Time
}

// bodyReader is a reusable request body.
type bodyReader struct{ bytes.Reader }

func (*bodyReader) Close() error { return nil }

func (r *runner) run(ctx context.Context) (*result, error) {
	cfg := r.cfg
	ctx, cancel := context.WithTimeout(ctx, cfg.maxTime)
	defer cancel()
	now := time.Now()
	r.start = now.Add(cfg.warmup)
	r.end = r.start.Add(cfg.duration)
	if cfg.count > 0 {
		r.end = now.Add(cfg.maxTime)
	}
	// In duration mode, stragglers past the window get one timeout, then
	// are cut so the run always ends.
	if cfg.count == 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithDeadline(ctx, r.end.Add(cfg.timeout))
		defer c2()
	}

	var (
		proc0           procSample
		cores0          []coreTimes
		watchErr        error
		watchStarted    = make(chan struct{})
		watchesAnything = len(cfg.watchPIDs) > 0 || len(cfg.cores) > 0
	)
	go func() {
		defer close(watchStarted)
		if !watchesAnything {
			return
		}
		select {
		case <-time.After(time.Until(r.start)):
		case <-ctx.Done():
			return
		}
		var e1, e2 error
		if len(cfg.watchPIDs) > 0 {
			proc0, e1 = sampleProcs(cfg.watchPIDs, cfg.clkTck)
		}
		if len(cfg.cores) > 0 {
			cores0, e2 = readCores(cfg.cores)
		}
		watchErr = errors.Join(e1, e2)
	}()

	workers := make([]*worker, cfg.conc)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{buf: make([]byte, 32<<10)}
		workers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.loop(ctx, w)
		}()
	}
	wg.Wait()
	<-watchStarted
	end := r.end
	if cfg.count > 0 {
		end = r.start
		for _, w := range workers {
			if w.lastEnd.After(end) {
				end = w.lastEnd
			}
		}
	}
	res := r.collect(workers, end.Sub(r.start))
	if watchesAnything {
		r.watchResult(res, proc0, cores0, watchErr)
	}
	return res, nil
}

// watchResult adds the watched processes' CPU and RSS. In duration mode
// the workers finish at the window's end, so the second CPU sample is
// taken then, before the process idles.
func (r *runner) watchResult(res *result, proc0 procSample, cores0 []coreTimes, watchErr error) {
	if watchErr == nil && len(cores0) > 0 {
		cores1, err := readCores(r.cfg.cores)
		watchErr = err
		for i, c := range r.cfg.cores {
			if err != nil {
				break
			}
			busy, total := cores1[i].busy-cores0[i].busy, cores1[i].total-cores0[i].total
			if total > 0 {
				if res.CoreBusyPct == nil {
					res.CoreBusyPct = map[string]float64{}
				}
				res.CoreBusyPct[strconv.Itoa(c)] = round3(100 * float64(busy) / float64(total))
			}
		}
	}
	if len(r.cfg.watchPIDs) == 0 {
		if watchErr != nil {
			res.WatchError = watchErr.Error()
		}
		return
	}
	res.WatchPIDs = r.cfg.watchPIDs
	if watchErr == nil {
		var proc1 procSample
		proc1, watchErr = sampleProcs(r.cfg.watchPIDs, r.cfg.clkTck)
		cpu := proc1.cpu - proc0.cpu
		res.CPUs = round3(cpu.Seconds())
		if n := float64(res.Count); n > 0 {
			res.CPUusPerRq = round3(float64(cpu.Microseconds()) / n)
			res.ReadsPerRq = round3(float64(proc1.reads-proc0.reads) / n)
			res.WritesPerRq = round3(float64(proc1.writes-proc0.writes) / n)
		}
	}
	for _, pid := range r.cfg.watchPIDs {
		kb, err := peakRSS(pid)
		if err != nil {
			watchErr = errors.Join(watchErr, err)
			continue
		}
		res.PeakRSSKB += kb
	}
	if watchErr != nil {
		res.WatchError = watchErr.Error()
	}
}

// loop is one closed-loop worker: the next request leaves as soon as the
// previous one is done.
func (r *runner) loop(ctx context.Context, w *worker) {
	cfg := r.cfg
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.url, nil)
	if err != nil {
		w.fail("build request")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	if cfg.stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	req.ContentLength = int64(len(cfg.body))
	req.GetBody = func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(cfg.body)), nil
	}
	for ctx.Err() == nil {
		begin := time.Now()
		measured := !begin.Before(r.start)
		if cfg.count > 0 {
			if measured && r.tickets.Add(1) > int64(cfg.count) {
				return
			}
		} else if !begin.Before(r.end) {
			return
		}
		w.body.Reset(cfg.body)
		req.Body = &w.body
		ttfb, n, kind := r.do(req, w.buf)
		done := time.Now()
		w.requests++
		if kind == "transport" {
			// A refused or reset connection fails at once; pausing keeps a
			// dead target from turning the worker into a busy loop.
			time.Sleep(time.Millisecond)
		}
		if cfg.count == 0 {
			measured = !done.Before(r.start) && done.Before(r.end)
		}
		if !measured {
			continue
		}
		w.lastEnd = done
		if kind != "" {
			if ctx.Err() == nil || kind != "transport" {
				w.fail(kind)
			}
			continue
		}
		w.lat.Record(done.Sub(begin))
		w.ttfb.Record(ttfb.Sub(begin))
		w.bytes += uint64(n)
	}
}

func (w *worker) fail(kind string) {
	if w.errs == nil {
		w.errs = map[string]uint64{}
	}
	w.errs[kind]++
	w.nErr++
}

var done = []byte("[DONE]")

// do sends one request and reads the whole answer. It returns when the
// first body byte arrived, the body size and, on failure, a short error
// kind.
func (r *runner) do(req *http.Request, buf []byte) (first time.Time, n int, kind string) {
	resp, err := r.client.Do(req)
	if err != nil {
		return first, 0, "transport"
	}
	defer resp.Body.Close()
	first = time.Now()
	gotFirst := false
	// sawDone tracks "[DONE]" across read boundaries through a small
	// window of the previous read's last bytes.
	var edge [2 * 8]byte
	var tail int
	sawDone := false
	for {
		m, err := resp.Body.Read(buf)
		if m > 0 {
			if !gotFirst {
				first, gotFirst = time.Now(), true
			}
			n += m
			if r.cfg.stream && !sawDone {
				k := copy(edge[tail:], buf[:min(m, len(done)-1)])
				sawDone = bytes.Contains(edge[:tail+k], done) || bytes.Contains(buf[:m], done)
				tail = copy(edge[:], buf[max(0, m-(len(done)-1)):m])
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return first, n, "read"
		}
	}
	switch {
	case resp.StatusCode != http.StatusOK:
		return first, n, fmt.Sprintf("status_%d", resp.StatusCode)
	case r.cfg.stream && !sawDone:
		return first, n, "missing_done"
	case n == 0:
		return first, n, "empty_body"
	}
	return first, n, ""
}

func (r *runner) collect(workers []*worker, window time.Duration) *result {
	var lat, ttfb histogram
	res := &result{
		Label: r.cfg.label, URL: r.cfg.url, Stream: r.cfg.stream, Concurrency: r.cfg.conc,
		WarmupS: r.cfg.warmup.Seconds(), WindowS: round3(window.Seconds()), Conns: r.dials.Load(),
	}
	for _, w := range workers {
		lat.Merge(&w.lat)
		ttfb.Merge(&w.ttfb)
		res.Errors += w.nErr
		res.Requests += w.requests
		res.BodyBytes += w.bytes
		for k, v := range w.errs {
			if res.ErrorKinds == nil {
				res.ErrorKinds = map[string]uint64{}
			}
			res.ErrorKinds[k] += v
		}
	}
	res.Count = lat.Count()
	if window > 0 {
		res.RPS = round3(float64(res.Count) / window.Seconds())
	}
	res.P50ms, res.P90ms, res.P99ms = ms(lat.Percentile(50)), ms(lat.Percentile(90)), ms(lat.Percentile(99))
	res.Maxms, res.Meanms = ms(lat.Max()), ms(lat.Mean())
	res.TTFBp50ms, res.TTFBp90ms, res.TTFBp99ms = ms(ttfb.Percentile(50)), ms(ttfb.Percentile(90)), ms(ttfb.Percentile(99))
	return res
}

func ms(d time.Duration) float64 { return round3(float64(d) / 1e6) }

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
