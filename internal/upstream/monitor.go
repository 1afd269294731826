package upstream

import (
	"context"
	"io"
	"math"
	"net/http"
	"sync"
	"time"
)

// HealthCheck configures active probing. An empty Path disables it.
type HealthCheck struct {
	Path               string        // e.g. /health (vLLM, SGLang, llama.cpp, sim) or / (Ollama)
	Interval           time.Duration // default 10s
	Timeout            time.Duration // default 2s
	HealthyThreshold   int           // consecutive successes to come back; default 2
	UnhealthyThreshold int           // consecutive failures to go down; default 3
}

// Run probes health and scrapes load metrics until ctx is done. It returns
// at once when neither is configured. One goroutine per upstream.
func (u *Upstream) Run(ctx context.Context) {
	hc, mp := u.opts.Health, u.opts.MetricsPath
	if hc.Path == "" && mp == "" {
		return
	}
	interval := hc.Interval
	if hc.Path == "" || (mp != "" && u.opts.MetricsInterval < interval) {
		interval = u.opts.MetricsInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var ok, bad int
	for {
		if hc.Path != "" {
			if u.probe(ctx, hc.Path, hc.Timeout) {
				ok, bad = ok+1, 0
				if ok >= hc.HealthyThreshold && u.activeDown.Load() {
					u.activeDown.Store(false)
					u.log.Info("upstream healthy again", "upstream", u.Name())
				}
			} else {
				ok, bad = 0, bad+1
				if bad >= hc.UnhealthyThreshold && !u.activeDown.Load() {
					u.activeDown.Store(true)
					u.log.Warn("upstream failed its health checks", "upstream", u.Name())
				}
			}
		}
		if mp != "" {
			u.scrape(ctx, mp)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (u *Upstream) probe(ctx context.Context, path string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := u.get(ctx, path)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return HealthyStatus(resp.StatusCode)
}

// HealthyStatus reports whether a health probe's answer means healthy: a
// 2xx. llama.cpp answers 503 while it loads its model, and a wrong path
// 404: both are down. `dsgate doctor` judges health paths with it too, so
// the two agree.
func HealthyStatus(code int) bool { return code/100 == 2 }

func (u *Upstream) scrape(ctx context.Context, path string) {
	ctx, cancel := context.WithTimeout(ctx, u.opts.MetricsInterval)
	defer cancel()
	resp, err := u.get(ctx, path)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return
	}
	if l, ok := ParseLoad(page, u.opts.Now()); ok {
		u.loadMu.Lock()
		u.load, u.loadInFlight = l, u.inFlight.Load()
		u.loadMu.Unlock()
	}
}

func (u *Upstream) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.base+path, nil)
	if err != nil {
		return nil, err
	}
	if u.auth != "" {
		req.Header.Set("Authorization", u.auth)
	}
	return u.client.Do(req)
}

// LoadScore estimates the upstream's queue: the engine's last reported
// running+waiting requests plus what this gateway sent or finished since,
// weighted up by KV-cache pressure. Without a fresh sample (older than
// three scrape intervals, or none) it is the gateway's own in-flight count.
func (u *Upstream) LoadScore() float64 {
	now := u.opts.Now()
	inflight := u.inFlight.Load()
	u.loadMu.Lock()
	l, base := u.load, u.loadInFlight
	u.loadMu.Unlock()
	if l.At.IsZero() || u.stale(l, now) {
		return float64(inflight)
	}
	score := math.Max(0, l.Running+l.Waiting+float64(inflight-base))
	if l.KVCache > 0 {
		score *= 1 + l.KVCache
	}
	return score
}

// stale reports whether a load sample is too old to use: older than three
// scrape intervals.
func (u *Upstream) stale(l Load, now time.Time) bool { return now.Sub(l.At) > 3*u.opts.MetricsInterval }

// peakEWMA is a latency estimate that jumps up at once on a slow response
// and decays slowly (Finagle's and Linkerd's peak EWMA).
type peakEWMA struct {
	mu    sync.Mutex
	value float64 // nanoseconds
	stamp time.Time
	tau   time.Duration
}

func (e *peakEWMA) observe(rtt time.Duration, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v := float64(rtt)
	switch {
	case e.value == 0 || v > e.value:
		e.value = v
	default:
		w := math.Exp(-float64(now.Sub(e.stamp)) / float64(e.tau))
		e.value = e.value*w + v*(1-w)
	}
	e.stamp = now
}

// get returns the estimate decayed to now, so a target that was slow once
// (a cold start) looks better as time passes and gets tried again, as in
// tower's and Linkerd's peak EWMA.
func (e *peakEWMA) get(now time.Time) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.value == 0 {
		return 0
	}
	w := math.Exp(-float64(now.Sub(e.stamp)) / float64(e.tau))
	return time.Duration(e.value * w)
}
