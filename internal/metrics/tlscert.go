package metrics

import (
	"crypto/x509"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// TLS certificate metrics. They come from a collector that reads each
// listener's current certificate at scrape time, so a rotated certificate
// is reported from the first scrape after it was loaded, and the old one
// leaves no series behind.
const (
	NameTLSCertExpiry    = "dsgate_tls_certificate_expiry_timestamp_seconds"
	NameTLSCertNotBefore = "dsgate_tls_certificate_not_before_timestamp_seconds"
)

// TLSCertNames lists the names the certificate collector can export.
func TLSCertNames() []string { return []string{NameTLSCertExpiry, NameTLSCertNotBefore} }

// CertCollector exports the validity of the certificates dsgate serves.
// The nil *CertCollector (metrics off) ignores Watch.
type CertCollector struct {
	mu      sync.Mutex
	sources []certSource

	expiry, notBefore *prometheus.Desc
}

type certSource struct {
	listener string
	leaf     func() *x509.Certificate
}

// NewCertCollector builds the collector; register it on the /metrics
// registry, then Watch each TLS listener.
func NewCertCollector() *CertCollector {
	labels := []string{"listener", "subject"}
	return &CertCollector{
		expiry: prometheus.NewDesc(NameTLSCertExpiry,
			"Unix time at which the certificate a listener serves expires (its NotAfter); alert well before.",
			labels, nil),
		notBefore: prometheus.NewDesc(NameTLSCertNotBefore,
			"Unix time from which the certificate a listener serves is valid (its NotBefore); it changes when the certificate is rotated.",
			labels, nil),
	}
}

// Watch exports the certificate leaf returns, read at every scrape, under
// the listener's name. leaf must be safe to call concurrently; a nil
// result exports nothing.
func (c *CertCollector) Watch(listener string, leaf func() *x509.Certificate) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.sources {
		if s.listener == listener { // a restarted listener replaces its source
			c.sources[i].leaf = leaf
			return
		}
	}
	c.sources = append(c.sources, certSource{listener: listener, leaf: leaf})
}

// Describe implements prometheus.Collector.
func (c *CertCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.expiry
	ch <- c.notBefore
}

// Collect implements prometheus.Collector.
func (c *CertCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	sources := append([]certSource(nil), c.sources...)
	c.mu.Unlock()
	for _, s := range sources {
		leaf := s.leaf()
		if leaf == nil {
			continue
		}
		subject := leaf.Subject.String()
		ch <- prometheus.MustNewConstMetric(c.expiry, prometheus.GaugeValue,
			float64(leaf.NotAfter.Unix()), s.listener, subject)
		ch <- prometheus.MustNewConstMetric(c.notBefore, prometheus.GaugeValue,
			float64(leaf.NotBefore.Unix()), s.listener, subject)
	}
}
