package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sample is one window of the time series.
type sample struct {
	at         time.Duration // end of the window, since the start
	window     time.Duration
	sent, done int
	classes    map[string]int // answers by class within the window
	unexpected int
	inFlight   int     // requests sent and not answered at the end
	rssMB      float64 // -1: unreadable
	goroutines int     // -1: unreadable
}

func (s sample) errPct() float64 {
	if s.done == 0 {
		return 0
	}
	return 100 * float64(s.unexpected) / float64(s.done)
}

// sampler records a sample every c.sampleEvery until ctx ends, and one
// at the end unless the last is recent.
func sampler(ctx context.Context, c *config, e *env, rec *recorder, start time.Time) []sample {
	var out []sample
	tick := time.NewTicker(c.sampleEvery)
	defer tick.Stop()
	prev, prevAt := rec.snapshot(), time.Duration(0)
	for {
		select {
		case <-ctx.Done():
			// The tick at the very end races with ctx: keep that window.
			if time.Since(start)-prevAt < c.sampleEvery/2 {
				return out
			}
		case <-tick.C:
		}
		now := rec.snapshot()
		at := time.Since(start)
		s := sample{at: at, window: at - prevAt, sent: now.sent - prev.sent, done: now.done - prev.done,
			unexpected: now.unexp - prev.unexp, inFlight: now.sent - now.done, classes: map[string]int{}, rssMB: -1, goroutines: -1}
		for k, v := range now.classes {
			if d := v - prev.classes[k]; d != 0 {
				s.classes[k] = d
			}
		}
		if rss, err := rssBytes(e.gw.PID()); err == nil {
			s.rssMB = float64(rss) / (1 << 20)
		}
		if g, err := goroutines(context.WithoutCancel(ctx), e.url+"/metrics"); err == nil {
			s.goroutines = g
		}
		out = append(out, s)
		prev, prevAt = now, at
		if ctx.Err() != nil {
			return out
		}
	}
}

// goroutines reads go_goroutines from the gateway's /metrics.
func goroutines(ctx context.Context, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("%s: no go_goroutines", url)
}

// growth compares the mean of the last third of vals with the mean of
// the first third: ratio is last/first. ok is false with fewer than three
// values.
func growth(vals []float64) (first, last, ratio float64, ok bool) {
	n := len(vals) / 3
	if n == 0 {
		return 0, 0, 0, false
	}
	first, last = mean(vals[:n]), mean(vals[len(vals)-n:])
	if first == 0 {
		return first, last, 0, false
	}
	return first, last, last / first, true
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
