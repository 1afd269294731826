package metrics

import "github.com/prometheus/client_golang/prometheus"

// Control-plane store (PostgreSQL or SQLite) health, read at scrape time.
const (
	NameStoreUp              = "dsgate_store_up"
	NameStoreConnectFailures = "dsgate_store_connect_failures_total"
)

// StoreNames lists the names the store collector can export.
func StoreNames() []string { return []string{NameStoreUp, NameStoreConnectFailures} }

// StoreHealth is the store's connection state at scrape time.
type StoreHealth struct {
	Backend         string // postgres, sqlite
	Up              bool
	ConnectFailures uint64
}

// StoreCollector exports StoreHealth from a source called at every scrape;
// a source answering false (no store, or one without a health report)
// exports nothing.
type StoreCollector struct {
	source       func() (StoreHealth, bool)
	up, failures *prometheus.Desc
}

// NewStoreCollector builds the collector; register it on the /metrics registry.
func NewStoreCollector(source func() (StoreHealth, bool)) *StoreCollector {
	return &StoreCollector{
		source: source,
		up: prometheus.NewDesc(NameStoreUp,
			"1 while the control-plane store (keys, clients, usage) accepts connections, 0 while it is unreachable.",
			[]string{"backend"}, nil),
		failures: prometheus.NewDesc(NameStoreConnectFailures,
			"Failed connection attempts to the control-plane store.",
			[]string{"backend"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *StoreCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.failures
}

// Collect implements prometheus.Collector.
func (c *StoreCollector) Collect(ch chan<- prometheus.Metric) {
	h, ok := c.source()
	if !ok {
		return
	}
	up := 0.0
	if h.Up {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, h.Backend)
	ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(h.ConnectFailures), h.Backend)
}
