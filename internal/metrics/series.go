package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// series keeps the children of one vector that every request observes,
// by their label values (after Model, Upstream or Label: as many entries
// as the vector has series, whatever a client sends). client_golang's
// WithLabelValues checks every value's UTF-8, hashes the values (FNV) and
// looks the hash up in its own map under a lock, some 700 instructions a
// call and eight calls or more a request; a read of this map is a tenth
// of that (bench/RESULTS.md, BenchmarkStage/metrics). Only for vectors
// whose children are never deleted: a deleted child would still be
// counted into here.
type series[K comparable, C any] struct {
	mu sync.RWMutex
	m  map[K]C
}

// get returns the child for k, made by child the first time.
func (s *series[K, C]) get(k K, child func() C) C {
	s.mu.RLock()
	c, ok := s.m[k]
	s.mu.RUnlock()
	if ok {
		return c
	}
	c = child() // the vector's own child: made once whoever asks first
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[K]C)
	}
	s.m[k] = c
	s.mu.Unlock()
	return c
}

// The children of the hot vectors, by label values.
type hotSeries struct {
	httpDuration     series[[3]string, prometheus.Observer]
	requests         series[[3]string, prometheus.Counter]
	principalReqs    series[string, prometheus.Counter]
	tokens           series[[2]string, prometheus.Counter]
	principalTokens  series[[2]string, prometheus.Counter]
	upstreamRequests series[[2]string, prometheus.Counter]
	upstreamLatency  series[string, prometheus.Observer]
	ttft             series[[2]string, prometheus.Observer]
	interToken       series[string, prometheus.Observer]
	cacheRequests    series[[2]string, prometheus.Counter]
	cost, costSaved  series[[2]string, prometheus.Counter]
	principalCost    series[[2]string, prometheus.Counter]
	principalSaved   series[[2]string, prometheus.Counter]
}

// counter2 is vec's child for two label values through s.
func counter2(s *series[[2]string, prometheus.Counter], vec *prometheus.CounterVec, a, b string) prometheus.Counter {
	return s.get([2]string{a, b}, func() prometheus.Counter { return vec.WithLabelValues(a, b) })
}
