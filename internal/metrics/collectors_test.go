package metrics_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dsgate/dsgate/internal/metrics"
)

func TestStoreCollector(t *testing.T) {
	h, ok := metrics.StoreHealth{Backend: "postgres", Up: false, ConnectFailures: 3}, true
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewStoreCollector(func() (metrics.StoreHealth, bool) { return h, ok }))
	want := `# HELP dsgate_store_up 1 while the control-plane store (keys, clients, usage) accepts connections, 0 while it is unreachable.
# TYPE dsgate_store_up gauge
dsgate_store_up{backend="postgres"} 0
# HELP dsgate_store_connect_failures_total Failed connection attempts to the control-plane store.
# TYPE dsgate_store_connect_failures_total counter
dsgate_store_connect_failures_total{backend="postgres"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), metrics.StoreNames()...); err != nil {
		t.Error(err)
	}
	ok = false // no store with a health report: nothing exported
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 0 {
		t.Errorf("without a source: %d series, %v", n, err)
	}
}

func TestCacheTierCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCacheTierCollector(func() []metrics.CacheTierLookups {
		return []metrics.CacheTierLookups{{Tier: "redis", Hits: 5, Misses: 4, Errors: 3, Timeouts: 2, Skipped: 1}}
	}))
	want := `# HELP dsgate_cache_tier_lookups_total Reads of each response cache tier by result (hit, miss, error, timeout, skipped); hits over all is the tier's hit ratio.
# TYPE dsgate_cache_tier_lookups_total counter
dsgate_cache_tier_lookups_total{result="error",tier="redis"} 3
dsgate_cache_tier_lookups_total{result="hit",tier="redis"} 5
dsgate_cache_tier_lookups_total{result="miss",tier="redis"} 4
dsgate_cache_tier_lookups_total{result="skipped",tier="redis"} 1
dsgate_cache_tier_lookups_total{result="timeout",tier="redis"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), metrics.NameCacheTierLookups); err != nil {
		t.Error(err)
	}
}
