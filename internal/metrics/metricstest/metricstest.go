// Package metricstest helps tests of the files that query dsgate's metrics
// (alert rules, Grafana dashboards) check that every expression names a
// metric that exists: one from internal/metrics or a known external one.
package metricstest

import (
	"regexp"
	"slices"
	"strings"

	"github.com/dsgate/dsgate/internal/metrics"
)

// External returns metric names dsgate's deploy files may use that other
// exporters define: Prometheus itself, the NVIDIA DCGM exporter and vLLM
// (both the current kv_cache_usage_perc and the older gpu_cache_usage_perc).
func External() []string {
	return []string{
		"up",
		"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE",
		"vllm:num_requests_running", "vllm:num_requests_waiting",
		"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc",
	}
}

// Known returns every series name that may appear in an expression: the
// package's metrics (the balance collector's included), the _bucket/_sum/_count series of its histograms, and
// External.
func Known() map[string]bool {
	known := map[string]bool{}
	for _, n := range slices.Concat(metrics.Names(), metrics.BalanceNames(), metrics.CacheTierNames(), metrics.TLSCertNames(), metrics.StoreNames()) {
		known[n] = true
	}
	for _, h := range metrics.Histograms() {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			known[h+suffix] = true
		}
	}
	for _, n := range External() {
		known[n] = true
	}
	return known
}

var (
	stringLit  = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	matchers   = regexp.MustCompile(`\{[^}]*\}`)
	ranges     = regexp.MustCompile(`\[[^\]]*\]`)
	grouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	grafanaVar = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	ident      = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// keywords are PromQL words that are not metric names.
func keywords() []string {
	return []string{"by", "without", "on", "ignoring", "group_left", "group_right",
		"bool", "and", "or", "unless", "offset", "inf", "nan", "Inf", "NaN", "atan2"}
}

// MetricNames returns the metric names a PromQL expression selects. It is a
// lexical approximation, good for the expressions of deploy files: it drops
// strings, label matchers, ranges, grouping clauses and Grafana variables,
// then keeps identifiers that are not function calls or keywords.
func MetricNames(expr string) []string {
	s := stringLit.ReplaceAllString(expr, " ")
	s = grafanaVar.ReplaceAllString(s, " ")
	s = matchers.ReplaceAllString(s, " ")
	s = ranges.ReplaceAllString(s, " ")
	s = grouping.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range ident.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsRune("0123456789.", rune(s[loc[0]-1])) {
			continue // a duration or number suffix: 5m, 1e3
		}
		if strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "(") {
			continue // a function or aggregation
		}
		if slices.Contains(keywords(), name) || slices.Contains(out, name) {
			continue
		}
		out = append(out, name)
	}
	return out
}
