package console

import (
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/reqscope"
)

// seriesSlots is how many one-minute slots the ring keeps: one day.
const seriesSlots = 24 * 60

// latencyBuckets are the upper bounds of the latency histogram each slot
// keeps (for p50 and p95): 1 ms growing by half each step to ~11 s; the
// last bucket holds everything slower.
var latencyBuckets = func() [24]time.Duration {
	var b [24]time.Duration
	d := float64(time.Millisecond)
	for i := range b {
		b[i] = time.Duration(d)
		d *= 1.5
	}
	return b
}()

// histogram counts durations by latencyBuckets (+1 for the overflow).
type histogram [len(latencyBuckets) + 1]uint32

func (h *histogram) add(d time.Duration) {
	i := 0
	for i < len(latencyBuckets) && d > latencyBuckets[i] {
		i++
	}
	h[i]++
}

// slot is one minute of traffic.
type slot struct {
	minute     int64 // Unix minute the slot holds; stale slots are reset
	requests   int64
	errors     int64 // status 5xx
	refused    int64 // status 4xx
	prompt     int64
	completion int64
	cacheHits  int64 // requests answered from the cache
	costUSD    int64 // nano-units
	costCNY    int64
	savedUSD   int64
	savedCNY   int64
	latency    histogram
	ttft       histogram
}

// Series is the console's in-process time series: one slot per minute for
// the last day, fed by the pipeline's Recorder for every finished request
// (no Prometheus needed). ObserveRequest does not allocate; reading it
// (Summary, Points) does, but only when someone looks.
type Series struct {
	mu    sync.Mutex
	slots [seriesSlots]slot
}

// NewSeries returns an empty Series.
func NewSeries() *Series { return &Series{} }

// ObserveRequest adds one finished request to its minute. Health probes
// and metric scrapes are not traffic and are skipped. It implements
// pipeline.SeriesObserver.
func (se *Series) ObserveRequest(s *reqscope.Scope, route string, status int, end time.Time) {
	switch route {
	case "GET /healthz", "GET /readyz", "GET /metrics":
		return
	}
	minute := end.Unix() / 60
	latency := end.Sub(s.Start)
	se.mu.Lock()
	defer se.mu.Unlock()
	sl := &se.slots[minute%seriesSlots]
	if sl.minute != minute {
		*sl = slot{minute: minute}
	}
	sl.requests++
	switch {
	case status >= 500:
		sl.errors++
	case status >= 400:
		sl.refused++
	}
	sl.latency.add(latency)
	if s.Stream && s.FirstToken > 0 {
		sl.ttft.add(s.FirstToken)
	}
	if s.CacheResult == "hit" {
		sl.cacheHits++
	} else {
		sl.prompt += int64(s.PromptTokens)
		sl.completion += int64(s.CompletionTokens)
	}
	if s.Priced {
		switch s.Cost.Currency {
		case "USD":
			sl.costUSD += int64(s.Cost.Amount)
			sl.savedUSD += int64(s.Cost.Saved)
		case "CNY":
			sl.costCNY += int64(s.Cost.Amount)
			sl.savedCNY += int64(s.Cost.Saved)
		}
	}
}

// Summary is the traffic of a window.
type Summary struct {
	Window     time.Duration
	Requests   int64
	Errors     int64 // 5xx
	Refused    int64 // 4xx
	RPS        float64
	ErrorRatio float64
	P50, P95   time.Duration // latency; 0 without requests
	TTFT50     time.Duration // streams' time to first token
	TTFT95     time.Duration
	Prompt     int64
	Completion int64
	CacheHits  int64
	CostUSD    int64 // nano-units
	CostCNY    int64
	SavedUSD   int64
	SavedCNY   int64
}

// Summary adds up the minutes of the window ending at now.
func (se *Series) Summary(now time.Time, window time.Duration) Summary {
	out := Summary{Window: window}
	var lat, ttft histogram
	se.each(now, window, func(sl *slot) {
		out.Requests += sl.requests
		out.Errors += sl.errors
		out.Refused += sl.refused
		out.Prompt += sl.prompt
		out.Completion += sl.completion
		out.CacheHits += sl.cacheHits
		out.CostUSD += sl.costUSD
		out.CostCNY += sl.costCNY
		out.SavedUSD += sl.savedUSD
		out.SavedCNY += sl.savedCNY
		for i := range lat {
			lat[i] += sl.latency[i]
			ttft[i] += sl.ttft[i]
		}
	})
	if out.Requests > 0 {
		out.ErrorRatio = float64(out.Errors) / float64(out.Requests)
	}
	out.RPS = float64(out.Requests) / window.Seconds()
	out.P50, out.P95 = lat.quantile(0.5), lat.quantile(0.95)
	out.TTFT50, out.TTFT95 = ttft.quantile(0.5), ttft.quantile(0.95)
	return out
}

// Point is one step of a chart: the traffic of Step ending at At.
type Point struct {
	At       time.Time
	Requests int64
	Errors   int64
	Tokens   int64
	P95      time.Duration
}

// Points splits the window ending at now into n equal steps (oldest
// first), for charts.
func (se *Series) Points(now time.Time, window time.Duration, n int) []Point {
	step := window / time.Duration(n)
	if step < time.Minute {
		step, n = time.Minute, int(window/time.Minute)
	}
	pts := make([]Point, n)
	hists := make([]histogram, n)
	start := now.Truncate(time.Minute).Add(time.Minute - window)
	for i := range pts {
		pts[i].At = start.Add(time.Duration(i+1) * step)
	}
	se.each(now, window, func(sl *slot) {
		i := int(time.Unix(sl.minute*60, 0).Sub(start) / step)
		if i < 0 || i >= n {
			return
		}
		pts[i].Requests += sl.requests
		pts[i].Errors += sl.errors
		pts[i].Tokens += sl.prompt + sl.completion
		for b := range hists[i] {
			hists[i][b] += sl.latency[b]
		}
	})
	for i := range pts {
		pts[i].P95 = hists[i].quantile(0.95)
	}
	return pts
}

// each calls fn, under the lock, for every live slot of the window ending
// at now.
func (se *Series) each(now time.Time, window time.Duration, fn func(*slot)) {
	last := now.Unix() / 60
	first := last - int64(window/time.Minute) + 1
	se.mu.Lock()
	defer se.mu.Unlock()
	for m := first; m <= last; m++ {
		sl := &se.slots[((m%seriesSlots)+seriesSlots)%seriesSlots]
		if sl.minute == m {
			fn(sl)
		}
	}
}

// quantile estimates the q-quantile as the upper bound of the bucket it
// falls in; the overflow bucket reports the largest bound.
func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	for _, c := range h {
		total += uint64(c)
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h {
		seen += uint64(c)
		if seen >= rank {
			if i >= len(latencyBuckets) {
				return latencyBuckets[len(latencyBuckets)-1]
			}
			return latencyBuckets[i]
		}
	}
	return latencyBuckets[len(latencyBuckets)-1]
}
