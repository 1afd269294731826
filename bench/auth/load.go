package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

// load is one closed-loop run: conc workers, each on its own keep-alive
// connection, send a request as soon as their previous one is answered.
type load struct {
	conc     int
	warmup   time.Duration // requests finishing before start are not counted
	duration time.Duration // the measured window
	// request returns the i-th request (i counts from 0 over all workers).
	request func(i int64) *http.Request
	// check, when set, judges an answer with status 200 and its body.
	check func(resp *http.Response, body []byte) error
	// watchPID is the process whose CPU time is read at the window's start
	// and end (0: none), pinned to watchCore, whose busy time is read too;
	// tck is the clock-tick rate.
	watchPID, watchCore, tck int
}

// result is what a load run measured in its window.
type result struct {
	ok, errs int
	firstErr string
	window   time.Duration
	lat      []time.Duration // sorted
	cpu      time.Duration   // CPU time of watchPID over the window
	coreBusy float64         // share of the window watchCore was busy, whoever used it
	cpuErr   error
}

// othersPct is the share of the watched core that other processes used
// during the window, in percent: the noise in this cell.
func (r *result) othersPct() float64 {
	return max(100*(r.coreBusy-r.cpu.Seconds()/r.window.Seconds()), 0)
}

func (r *result) rps() float64 { return float64(r.ok) / r.window.Seconds() }

// pct returns the p-th percentile (0..100) latency, nearest rank.
func (r *result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p/100*float64(len(r.lat))+0.5) - 1
	return r.lat[min(max(i, 0), len(r.lat)-1)]
}

func (r *result) mean() time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range r.lat {
		sum += d
	}
	return sum / time.Duration(len(r.lat))
}

// cpuPerReq is the watched process's CPU time per successful request, in µs.
func (r *result) cpuPerReq() float64 {
	if r.ok == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(r.ok)
}

func newHTTPClient(conc int) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if host, _, err := net.SplitHostPort(addr); err != nil || host != "127.0.0.1" {
					return nil, fmt.Errorf("refusing to dial %s: only 127.0.0.1", addr)
				}
				return d.DialContext(ctx, network, addr)
			},
			MaxConnsPerHost:     conc,
			MaxIdleConnsPerHost: conc,
			DisableCompression:  true,
		},
	}
}

type sample struct {
	done time.Time
	lat  time.Duration
	err  error
}

func (l *load) run(ctx context.Context) *result {
	c := newHTTPClient(l.conc)
	defer c.CloseIdleConnections()
	start := time.Now().Add(l.warmup)
	end := start.Add(l.duration)
	res := &result{window: l.duration}

	var cpu0, cpu1 time.Duration
	var core0, core1 benchkit.CoreTimes
	var errs [4]error
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		if l.watchPID == 0 {
			return
		}
		time.Sleep(time.Until(start))
		cpu0, errs[0] = benchkit.CPUTime(l.watchPID, l.tck)
		core0, errs[1] = benchkit.ReadCore(l.watchCore)
		time.Sleep(time.Until(end))
		cpu1, errs[2] = benchkit.CPUTime(l.watchPID, l.tck)
		core1, errs[3] = benchkit.ReadCore(l.watchCore)
	}()

	var next atomic.Int64
	perWorker := make([][]sample, l.conc)
	var wg sync.WaitGroup
	for w := range l.conc {
		wg.Go(func() {
			buf := make([]sample, 0, 1<<14)
			for ctx.Err() == nil && time.Now().Before(end) {
				req := l.request(next.Add(1) - 1).WithContext(ctx)
				t0 := time.Now()
				err := l.do(c, req)
				t1 := time.Now()
				buf = append(buf, sample{done: t1, lat: t1.Sub(t0), err: err})
			}
			perWorker[w] = buf
		})
	}
	wg.Wait()
	<-sampled
	for _, buf := range perWorker {
		for _, s := range buf {
			if s.done.Before(start) || s.done.After(end) {
				continue
			}
			if s.err != nil {
				res.errs++
				if res.firstErr == "" {
					res.firstErr = s.err.Error()
				}
				continue
			}
			res.ok++
			res.lat = append(res.lat, s.lat)
		}
	}
	slices.Sort(res.lat)
	res.cpu, res.cpuErr = cpu1-cpu0, firstError(errs[:]...)
	if total := core1.Total - core0.Total; total > 0 {
		res.coreBusy = float64(core1.Busy-core0.Busy) / float64(total)
	}
	return res
}

func (l *load) do(c *http.Client, req *http.Request) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
	}
	if l.check != nil {
		return l.check(resp, body)
	}
	return nil
}

func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
