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

func (l *load) run(ctx context.Context) *benchkit.Result {
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
