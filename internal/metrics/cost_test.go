package metrics_test

import (
	"testing"

	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestAddCost(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := metrics.New(reg)
	m.AddCost("deepseek-flash", "k1", "USD", 0.5, 0.25)
	m.AddCost("deepseek-flash", "k1", "USD", 0, 0.25) // a response-cache hit: saved only
	m.AddCost("deepseek-flash", "k1", "", 1, 1)       // unpriced: nothing
	if got := testutil.ToFloat64(m.Cost.WithLabelValues("deepseek-flash", "USD")); got != 0.5 {
		t.Errorf("cost %v", got)
	}
	if got := testutil.ToFloat64(m.CostSaved.WithLabelValues("deepseek-flash", "USD")); got != 0.5 {
		t.Errorf("saved %v", got)
	}
	if m.PrincipalCost != nil {
		t.Error("principal cost without opt-in")
	}
}
