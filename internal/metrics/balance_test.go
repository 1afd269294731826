package metrics_test

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dsgate/dsgate/internal/metrics"
)

func TestBalanceCollector(t *testing.T) {
	samples := []metrics.BalanceSample{
		{Upstream: "deepseek", Known: true, Available: true, UpdatedAt: time.Unix(1700000000, 500e6), Failures: 2,
			Currencies: []metrics.CurrencyBalance{{Currency: "CNY", Total: 110}, {Currency: "USD", Total: 2.5}, {Currency: "CNY", Total: 1}}},
		{Upstream: "deepseek-backup", Failures: 4}, // never read: only its failure counter
		{Upstream: "deepseek", Known: true},        // a repeat is ignored
	}
	c := metrics.NewBalanceCollector(func() []metrics.BalanceSample { return samples })
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	want := `
# HELP dsgate_upstream_balance Account balance reported by the upstream (DeepSeek total_balance), by currency.
# TYPE dsgate_upstream_balance gauge
dsgate_upstream_balance{currency="CNY",upstream="deepseek"} 110
dsgate_upstream_balance{currency="USD",upstream="deepseek"} 2.5
# HELP dsgate_upstream_balance_available 1 when the upstream reports the balance usable for API calls (DeepSeek is_available), else 0.
# TYPE dsgate_upstream_balance_available gauge
dsgate_upstream_balance_available{upstream="deepseek"} 1
# HELP dsgate_upstream_balance_poll_failures_total Failed balance reads since the upstream was configured.
# TYPE dsgate_upstream_balance_poll_failures_total counter
dsgate_upstream_balance_poll_failures_total{upstream="deepseek"} 2
dsgate_upstream_balance_poll_failures_total{upstream="deepseek-backup"} 4
# HELP dsgate_upstream_balance_updated_timestamp_seconds Unix time of the last successful balance read.
# TYPE dsgate_upstream_balance_updated_timestamp_seconds gauge
dsgate_upstream_balance_updated_timestamp_seconds{upstream="deepseek"} 1.7000000005e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), metrics.BalanceNames()...); err != nil {
		t.Error(err)
	}
	// The collector can sit next to a full Metrics on one registry.
	metrics.New(reg)
	if _, err := reg.Gather(); err != nil {
		t.Error(err)
	}
}
