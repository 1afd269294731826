package main

import (
	"strings"
	"testing"
)

func TestChecks(t *testing.T) {
	t.Parallel()
	cells := []cell{
		{Label: "direct", Concurrency: 1, P50ms: 0.200},
		{Label: "nginx", Concurrency: 1, P50ms: 0.300, RPS: 3000},
		{Label: "gateway", Concurrency: 1, P50ms: 0.400, RPS: 2500, PeakRSSKB: 20 << 10},
		{Label: "nginx", Concurrency: 64, RPS: 10000},
		{Label: "gateway", Concurrency: 64, RPS: 6000, PeakRSSKB: 30 << 10},
		{Label: "direct", Concurrency: 1, P50ms: 0.200, Stream: true},
		{Label: "nginx", Concurrency: 1, P50ms: 0.200, Stream: true},
		{Label: "gateway", Concurrency: 1, P50ms: 0.300, Stream: true, Errors: 2},
	}
	got := strings.Join(checks(cells), "\n")
	for _, want := range []string{
		"non-streaming throughput at c=64: gateway 6000 req/s = 60% of nginx's 10000 (target >= 70%): **missed**",
		"non-streaming added p50 at c=1 over direct (0.200 ms): gateway +0.200 ms, nginx +0.100 ms → 2.00x",
		"streaming added p50 at c=1 over direct (0.200 ms): gateway +0.100 ms, nginx +0.000 ms → nginx adds nothing measurable",
		"gateway peak RSS (VmHWM over its whole run): 30.0 MB (target < 60 MB): **met**",
		"cells with errors (their figures are suspect): gateway streaming c=1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("checks output lacks %q\ngot:\n%s", want, got)
		}
	}
}

func TestMediansPicksMiddleRun(t *testing.T) {
	t.Parallel()
	cells := []cell{
		{Label: "gateway", Concurrency: 1, RPS: 300, P50ms: 3},
		{Label: "nginx", Concurrency: 1, RPS: 50},
		{Label: "gateway", Concurrency: 1, RPS: 100, P50ms: 1},
		{Label: "gateway", Concurrency: 1, RPS: 200, P50ms: 2},
	}
	got := medians(cells)
	if len(got) != 2 || got[0].Label != "gateway" || got[1].Label != "nginx" {
		t.Fatalf("medians = %+v, want gateway then nginx", got)
	}
	if got[0].RPS != 200 || got[0].P50ms != 2 || got[0].Runs != 3 {
		t.Errorf("gateway median = %+v, want the 200 req/s run of 3", got[0])
	}
}
