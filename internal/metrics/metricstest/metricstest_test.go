package metricstest_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/dsgate/dsgate/internal/metrics/metricstest"
)

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`sum(rate(http_errors_total[5m])) / sum(rate(http_request_duration_seconds_count[5m])) > 0.01`,
			[]string{"http_errors_total", "http_request_duration_seconds_count"}},
		{`histogram_quantile(0.99, sum by (le, route) (rate(http_request_duration_seconds_bucket{route=~"$route", job="dsgate"}[$__rate_interval])))`,
			[]string{"http_request_duration_seconds_bucket"}},
		{`max by (upstream) (dsgate_upstream_healthy) == bool 0 offset 5m`, []string{"dsgate_upstream_healthy"}},
		{`avg(vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc) * 100`,
			[]string{"vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"}},
		{`label_replace(up, "x", "$1", "instance", "(.*)")`, []string{"up"}},
		{`DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) * 1e2`,
			[]string{"DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, metricstest.MetricNames(tt.expr)); diff != "" {
			t.Errorf("MetricNames(%q) (-want +got):\n%s", tt.expr, diff)
		}
	}
}

func TestKnownIncludesHistogramSeries(t *testing.T) {
	known := metricstest.Known()
	for _, n := range []string{"http_request_duration_seconds_count", "dsgate_time_to_first_token_seconds_bucket", "dsgate_in_flight_requests", "DCGM_FI_DEV_GPU_UTIL"} {
		if !known[n] {
			t.Errorf("Known() lacks %s", n)
		}
	}
	if known["dsgate_requests_total_bucket"] {
		t.Error("counter got histogram series")
	}
}
