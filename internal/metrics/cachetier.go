package metrics

import "github.com/prometheus/client_golang/prometheus"

// NameCacheTierLookups counts the reads of each response cache tier by what
// they found. dsgate_cache_requests_total counts requests by the tier that
// answered (a miss has tier="all": no tier answered), so it cannot give a
// tier's hit ratio; this can: hits over all lookups of the tier.
const NameCacheTierLookups = "dsgate_cache_tier_lookups_total"

// Results of dsgate_cache_tier_lookups_total.
const (
	LookupHit     = "hit"
	LookupMiss    = "miss"
	LookupError   = "error"
	LookupTimeout = "timeout" // abandoned at the tier's read timeout
	LookupSkipped = "skipped" // the tier was cooling down after failures
)

// CacheTierNames lists the names the cache tier collector can export.
func CacheTierNames() []string { return []string{NameCacheTierLookups} }

// CacheTierLookups is one tier's lookup counts at scrape time.
type CacheTierLookups struct {
	Tier                                    string
	Hits, Misses, Errors, Timeouts, Skipped uint64
}

// CacheTierCollector exports CacheTierLookups from a source function called
// at every scrape; a nil or empty source (cache off) exports nothing.
type CacheTierCollector struct {
	source  func() []CacheTierLookups
	lookups *prometheus.Desc
}

// NewCacheTierCollector builds the collector; register it on the /metrics
// registry. source must be safe to call concurrently.
func NewCacheTierCollector(source func() []CacheTierLookups) *CacheTierCollector {
	return &CacheTierCollector{
		source: source,
		lookups: prometheus.NewDesc(NameCacheTierLookups,
			"Reads of each response cache tier by result (hit, miss, error, timeout, skipped); hits over all is the tier's hit ratio.",
			[]string{"tier", "result"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *CacheTierCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.lookups }

// Collect implements prometheus.Collector.
func (c *CacheTierCollector) Collect(ch chan<- prometheus.Metric) {
	if c.source == nil {
		return
	}
	for _, l := range c.source() {
		for _, r := range []struct {
			result string
			n      uint64
		}{{LookupHit, l.Hits}, {LookupMiss, l.Misses}, {LookupError, l.Errors}, {LookupTimeout, l.Timeouts}, {LookupSkipped, l.Skipped}} {
			ch <- prometheus.MustNewConstMetric(c.lookups, prometheus.CounterValue, float64(r.n), l.Tier, r.result)
		}
	}
}
