package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

// load is one closed-loop run: conc workers, each on its own keep-alive
// connection, send a request as soon as their previous one is answered.
// It runs for warmup+duration, or, when count is set, for exactly count
// requests, all measured, after each worker has sent prime once.
type load struct {
	conc     int
	warmup   time.Duration // requests finishing before start are not counted
	duration time.Duration // the measured window
	count    int64
	prime    func() *http.Request
	// request returns the i-th request (i counts from 0 over all workers).
	request func(i int64) *http.Request
	// check, when set, judges an answer with status 200 and its body.
	check func(resp *http.Response, body []byte) error
	// watchPID is the process whose CPU time is read at the window's start
	// and end (0: none), pinned to watchCore, whose busy time is read too;
	// tck is the clock-tick rate.
	watchPID, watchCore, tck int
}

func (l *load) run(ctx context.Context) *benchkit.Result {
	if l.count > 0 {
		return l.runCount(ctx)
	}
	c := benchkit.NewLocalClient(l.conc)
	defer c.CloseIdleConnections()
	start := time.Now().Add(l.warmup)
	end := start.Add(l.duration)
	res := &benchkit.Result{Window: l.duration}

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
	perWorker := make([][]benchkit.Sample, l.conc)
	var wg sync.WaitGroup
	for w := range l.conc {
		wg.Go(func() {
			buf := make([]benchkit.Sample, 0, 1<<14)
			for ctx.Err() == nil && time.Now().Before(end) {
				req := l.request(next.Add(1) - 1).WithContext(ctx)
				t0 := time.Now()
				err := l.do(c, req)
				t1 := time.Now()
				buf = append(buf, benchkit.Sample{Done: t1, Lat: t1.Sub(t0), Err: err})
			}
			perWorker[w] = buf
		})
	}
	wg.Wait()
	<-sampled
	for _, buf := range perWorker {
		for _, s := range buf {
			if s.Done.Before(start) || s.Done.After(end) {
				continue
			}
			if s.Err != nil {
				res.Errs++
				if res.FirstErr == "" {
					res.FirstErr = s.Err.Error()
				}
				continue
			}
			res.OK++
			res.Lat = append(res.Lat, s.Lat)
		}
	}
	slices.Sort(res.Lat)
	res.CPU, res.CPUErr = cpu1-cpu0, benchkit.FirstError(errs[:]...)
	if total := core1.Total - core0.Total; total > 0 {
		res.CoreBusy = float64(core1.Busy-core0.Busy) / float64(total)
	}
	return res
}

// runCount primes every worker's connection, then sends requests 0 to
// count-1; the window runs from the first request to the last answer.
func (l *load) runCount(ctx context.Context) *benchkit.Result {
	c := benchkit.NewLocalClient(l.conc)
	defer c.CloseIdleConnections()
	var primed, wg sync.WaitGroup
	primed.Add(l.conc)
	gate := make(chan struct{})
	var next atomic.Int64
	perWorker := make([][]benchkit.Sample, l.conc)
	primeErrs := make([]error, l.conc)
	for w := range l.conc {
		wg.Go(func() {
			if l.prime != nil {
				primeErrs[w] = l.send(c, l.prime().WithContext(ctx), nil)
			}
			primed.Done()
			<-gate
			var buf []benchkit.Sample
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= l.count {
					break
				}
				t0 := time.Now()
				err := l.do(c, l.request(i).WithContext(ctx))
				t1 := time.Now()
				buf = append(buf, benchkit.Sample{Done: t1, Lat: t1.Sub(t0), Err: err})
			}
			perWorker[w] = buf
		})
	}
	primed.Wait()
	res := &benchkit.Result{}
	if err := benchkit.FirstError(primeErrs...); err != nil {
		res.Errs, res.FirstErr = 1, "priming: "+err.Error()
	}
	var cpu0, cpu1 time.Duration
	var core0, core1 benchkit.CoreTimes
	var errs [4]error
	if l.watchPID != 0 {
		cpu0, errs[0] = benchkit.CPUTime(l.watchPID, l.tck)
		core0, errs[1] = benchkit.ReadCore(l.watchCore)
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	end := time.Now()
	if l.watchPID != 0 {
		cpu1, errs[2] = benchkit.CPUTime(l.watchPID, l.tck)
		core1, errs[3] = benchkit.ReadCore(l.watchCore)
		res.CPU, res.CPUErr = cpu1-cpu0, benchkit.FirstError(errs[:]...)
		if total := core1.Total - core0.Total; total > 0 {
			res.CoreBusy = float64(core1.Busy-core0.Busy) / float64(total)
		}
	}
	res.Window = end.Sub(start)
	for _, buf := range perWorker {
		for _, s := range buf {
			if s.Err != nil {
				res.Errs++
				if res.FirstErr == "" {
					res.FirstErr = s.Err.Error()
				}
				continue
			}
			res.OK++
			res.Lat = append(res.Lat, s.Lat)
		}
	}
	slices.Sort(res.Lat)
	return res
}

func (l *load) do(c *http.Client, req *http.Request) error { return l.send(c, req, l.check) }

// send makes one request; an answer other than 200, or one check refuses,
// is an error.
func (l *load) send(c *http.Client, req *http.Request, check func(*http.Response, []byte) error) error {
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
	if check != nil {
		return check(resp, body)
	}
	return nil
}
