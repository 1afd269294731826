package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Account balance metrics of upstreams that report one (DeepSeek's
// GET /user/balance). They come from a collector that reads the live
// upstreams at scrape time, so an upstream removed by a reload leaves no
// stale series behind.
const (
	NameUpstreamBalance             = "dsgate_upstream_balance"
	NameUpstreamBalanceAvailable    = "dsgate_upstream_balance_available"
	NameUpstreamBalanceUpdated      = "dsgate_upstream_balance_updated_timestamp_seconds"
	NameUpstreamBalancePollFailures = "dsgate_upstream_balance_poll_failures_total"
)

// BalanceNames lists the names the balance collector can export.
func BalanceNames() []string {
	return []string{NameUpstreamBalance, NameUpstreamBalanceAvailable, NameUpstreamBalanceUpdated, NameUpstreamBalancePollFailures}
}

// BalanceSample is one upstream's balance state at scrape time.
type BalanceSample struct {
	Upstream string
	// Known is false until the first successful read; then only the
	// failure counter is exported.
	Known      bool
	Available  bool
	Currencies []CurrencyBalance
	UpdatedAt  time.Time
	Failures   uint64
}

// CurrencyBalance is the total balance in one currency (a three-letter code).
type CurrencyBalance struct {
	Currency string
	Total    float64
}

// BalanceCollector exports BalanceSamples from a source function called at
// every scrape.
type BalanceCollector struct {
	source                              func() []BalanceSample
	balance, available, updated, failed *prometheus.Desc
}

// NewBalanceCollector builds the collector; register it on the /metrics
// registry. source must be safe to call concurrently.
func NewBalanceCollector(source func() []BalanceSample) *BalanceCollector {
	return &BalanceCollector{
		source: source,
		balance: prometheus.NewDesc(NameUpstreamBalance,
			"Account balance reported by the upstream (DeepSeek total_balance), by currency.",
			[]string{"upstream", "currency"}, nil),
		available: prometheus.NewDesc(NameUpstreamBalanceAvailable,
			"1 when the upstream reports the balance usable for API calls (DeepSeek is_available), else 0.",
			[]string{"upstream"}, nil),
		updated: prometheus.NewDesc(NameUpstreamBalanceUpdated,
			"Unix time of the last successful balance read.",
			[]string{"upstream"}, nil),
		failed: prometheus.NewDesc(NameUpstreamBalancePollFailures,
			"Failed balance reads since the upstream was configured.",
			[]string{"upstream"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *BalanceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.balance
	ch <- c.available
	ch <- c.updated
	ch <- c.failed
}

// Collect implements prometheus.Collector.
func (c *BalanceCollector) Collect(ch chan<- prometheus.Metric) {
	seen := map[string]bool{}
	for _, s := range c.source() {
		if seen[s.Upstream] {
			continue // one series per upstream even if a source repeats it
		}
		seen[s.Upstream] = true
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.CounterValue, float64(s.Failures), s.Upstream)
		if !s.Known {
			continue
		}
		avail := 0.0
		if s.Available {
			avail = 1
		}
		ch <- prometheus.MustNewConstMetric(c.available, prometheus.GaugeValue, avail, s.Upstream)
		ch <- prometheus.MustNewConstMetric(c.updated, prometheus.GaugeValue, float64(s.UpdatedAt.UnixMilli())/1000, s.Upstream)
		cur := map[string]bool{}
		for _, b := range s.Currencies {
			if cur[b.Currency] {
				continue
			}
			cur[b.Currency] = true
			ch <- prometheus.MustNewConstMetric(c.balance, prometheus.GaugeValue, b.Total, s.Upstream, b.Currency)
		}
	}
}
