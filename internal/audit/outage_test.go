package audit_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/testkit"
)

// TestWriterElasticHangs: Elasticsearch stops answering (a partition, not
// a refusal). Recording never waits for it, each delivery attempt ends at
// WriteTimeout and is counted as a sink error, the backlog shows in the
// queue depth, and once Elasticsearch answers again every record arrives
// once, in order, without a restart.
func TestWriterElasticHangs(t *testing.T) {
	es := newFakeES(t)
	sink, err := audit.NewElasticSink(audit.ElasticOptions{URL: es.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "errs"}, []string{"sink"})
	depth := prometheus.NewGauge(prometheus.GaugeOpts{Name: "depth"})
	reg.MustRegister(errs, depth)
	opts := fastOptions(t.TempDir(), audit.NamedSink{Name: "elasticsearch", Sink: sink})
	opts.WriteTimeout = 200 * time.Millisecond
	opts.Metrics = audit.Metrics{SinkErrors: errs, QueueDepth: depth}
	w, err := audit.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)
	w.Record(newEvent(0))
	testkit.Eventually(t, 15*time.Second, "first record delivered", func() bool { return es.count() == 1 })

	es.setMode("hang")
	start := time.Now()
	for i := 1; i < 41; i++ {
		w.Record(newEvent(i))
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("recording 40 events while Elasticsearch hangs took %v", took)
	}
	testkit.Eventually(t, 15*time.Second, "sink errors while Elasticsearch hangs", func() bool {
		return testutil.ToFloat64(errs.WithLabelValues("elasticsearch")) >= 2
	})
	testkit.Eventually(t, 15*time.Second, "backlog visible", func() bool { return testutil.ToFloat64(depth) == 40 })

	es.setMode("up")
	testkit.Eventually(t, 15*time.Second, "all 41 delivered after the outage", func() bool { return es.count() == 41 })
	testkit.Eventually(t, 15*time.Second, "backlog drained", func() bool { return testutil.ToFloat64(depth) == 0 })
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r := es.resentIDs(); len(r) != 0 {
		t.Fatalf("acknowledged ids sent again: %v", r)
	}
	for i, ev := range es.events(t) {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("delivery order: position %d has seq %d", i, ev.Seq)
		}
	}
}
