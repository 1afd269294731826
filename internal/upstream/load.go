package upstream

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// Load is an engine's self-reported load, read from its Prometheus
// /metrics page. Each field sums (Running, Waiting) or takes the maximum
// (KVCache) over the page's samples, so data-parallel engines and per-rank
// labels count once.
type Load struct {
	Running float64
	Waiting float64
	KVCache float64 // 0..1; -1 when the engine does not report it
	At      time.Time
}

// MarshalJSON writes the load as /admin/upstreams shows it: running,
// waiting, kv_cache_usage (null when the engine does not report it, as
// current llama.cpp does not) and sampled_at.
func (l Load) MarshalJSON() ([]byte, error) {
	var kv *float64
	if l.KVCache >= 0 {
		kv = &l.KVCache
	}
	return json.Marshal(struct {
		Running   float64   `json:"running"`
		Waiting   float64   `json:"waiting"`
		KVCache   *float64  `json:"kv_cache_usage"`
		SampledAt time.Time `json:"sampled_at"`
	}{l.Running, l.Waiting, kv, l.At})
}

// KnownKVCache reports whether the engine reported its KV-cache usage.
func (l Load) KnownKVCache() bool { return l.KVCache >= 0 }

// Metric names per engine; the first that appears wins. Sources: vLLM
// v1/metrics/loggers.py (kv_cache_usage_perc, the older gpu_cache_usage_perc),
// SGLang metrics/collector.py, llama.cpp tools/server/server-context.cpp
// (needs --metrics): requests_processing and requests_deferred. Current
// llama.cpp reports no KV-cache usage (kv_cache_usage_ratio went with the
// old KV-cache API); the name is still read from older builds.
var (
	runningNames = []string{"vllm:num_requests_running", "sglang:num_running_reqs", "llamacpp:requests_processing"}
	waitingNames = []string{"vllm:num_requests_waiting", "sglang:num_queue_reqs", "llamacpp:requests_deferred"}
	kvNames      = []string{"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc", "sglang:token_usage", "llamacpp:kv_cache_usage_ratio"}
)

// ParseLoad reads a Prometheus text exposition. ok is false when the page
// has none of the known running or waiting gauges. NaN samples are unknown
// and skipped.
func ParseLoad(page []byte, at time.Time) (l Load, ok bool) {
	sums := map[string]float64{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(page))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		name, value, ok := sample(line)
		if !ok || math.IsNaN(value) {
			continue
		}
		if isKV(name) {
			if !seen[name] || value > sums[name] {
				sums[name] = value
			}
		} else {
			sums[name] += value
		}
		seen[name] = true
	}
	l = Load{KVCache: -1, At: at}
	r, okR := first(runningNames, sums, seen)
	w, okW := first(waitingNames, sums, seen)
	if !okR && !okW {
		return l, false
	}
	l.Running, l.Waiting = r, w
	if kv, okK := first(kvNames, sums, seen); okK {
		l.KVCache = kv
	}
	return l, true
}

func isKV(name string) bool {
	for _, n := range kvNames {
		if n == name {
			return true
		}
	}
	return false
}

func first(names []string, v map[string]float64, seen map[string]bool) (float64, bool) {
	for _, n := range names {
		if seen[n] {
			return v[n], true
		}
	}
	return 0, false
}

// sample splits `name{labels} value [timestamp]`.
func sample(line []byte) (string, float64, bool) {
	end := bytes.IndexAny(line, "{ ")
	if end <= 0 {
		return "", 0, false
	}
	name := string(line[:end])
	rest := line[end:]
	if rest[0] == '{' {
		close := bytes.LastIndexByte(rest, '}')
		if close < 0 {
			return "", 0, false
		}
		rest = rest[close+1:]
	}
	fields := bytes.Fields(rest)
	if len(fields) == 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(string(fields[0]), 64)
	if err != nil {
		return "", 0, false
	}
	return name, v, true
}
