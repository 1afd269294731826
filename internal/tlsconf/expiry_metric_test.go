package tlsconf

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dsgate/dsgate/internal/metrics"
)

// The certificate expiry gauge follows the reloader: it reports the
// certificate loaded at start, then the rotated one.
func TestCertificateExpiryGaugeFollowsRotation(t *testing.T) {
	ca := newCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write := func(cn string, notAfter time.Time) {
		c, k := ca.issue(t, leafSpec{serial: notAfter.Unix(), cn: cn, notAfter: notAfter})
		writeAtomic(t, certFile, c)
		writeAtomic(t, keyFile, k)
	}
	first := time.Now().Add(20 * 24 * time.Hour).Truncate(time.Second)
	write("gw-old", first)
	r, err := NewReloader(Options{CertFile: certFile, KeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	certs := metrics.NewCertCollector()
	reg.MustRegister(certs)
	certs.Watch("server", r.Leaf)

	want := func(cn string, notAfter time.Time) {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, mf := range mfs {
			if mf.GetName() != metrics.NameTLSCertExpiry {
				continue
			}
			for _, m := range mf.Metric {
				var labels []string
				for _, l := range m.Label {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
				got = append(got, fmt.Sprintf("%s %d", strings.Join(labels, ","), int64(m.GetGauge().GetValue())))
			}
		}
		exp := fmt.Sprintf("listener=server,subject=CN=%s %d", cn, notAfter.Unix())
		if len(got) != 1 || got[0] != exp {
			t.Errorf("%s = %q, want [%q]", metrics.NameTLSCertExpiry, got, exp)
		}
	}
	want("gw-old", first)

	second := first.Add(90 * 24 * time.Hour)
	write("gw-new", second)
	if changed, err := r.Reload(); err != nil || !changed {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
	want("gw-new", second)
}
