package grafana_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/cache/cachetest"
	"github.com/dsgate/dsgate/internal/cache/disk"
	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/dsgate/dsgate/internal/testkit"
)

// cacheMetrics runs a memory tier over a disk tier through a known set of
// lookups and returns the cache metrics the code exported for them:
// dsgate_cache_requests_total as the gateway counts requests (the tier
// that answered, or tier="all" for a miss) and the tier collector's
// dsgate_cache_tier_lookups_total.
//
// One entry is stored on disk only; it is read twice (a disk hit promoted
// to memory, then a memory hit), and three absent keys are read once each.
// Memory: 1 hit in 5 lookups. Disk: 1 hit in 4 (the second read stopped at
// memory). Requests: 2 hits in 5.
func cacheMetrics(t *testing.T) []*dto.MetricFamily {
	t.Helper()
	mem, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	dsk, err := disk.Open(disk.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dsk.Close() })
	tc, err := cache.NewTiered(cache.TieredOptions{Tiers: []cache.Tier{
		{Store: mem, Inline: true}, {Store: dsk, Timeout: 5 * time.Second},
	}})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := metrics.NewWithOptions(reg, metrics.Options{})
	reg.MustRegister(metrics.NewCacheTierCollector(func() []metrics.CacheTierLookups {
		var out []metrics.CacheTierLookups
		for _, l := range tc.Lookups() {
			out = append(out, metrics.CacheTierLookups(l))
		}
		return out
	}))

	ctx := context.Background()
	stored := cachetest.SampleKey(t, 1)
	if err := dsk.Set(ctx, stored, cachetest.SampleEntry("deepseek-chat", 1), time.Hour); err != nil {
		t.Fatal(err)
	}
	for i, k := range []cache.Key{stored, stored, cachetest.SampleKey(t, 2), cachetest.SampleKey(t, 3), cachetest.SampleKey(t, 4)} {
		// As gateway.cached counts a lookup.
		h, err := tc.Get(ctx, k)
		switch {
		case err == nil:
			m.CacheResult(h.Tier, "hit")
		case errors.Is(err, cache.ErrMiss):
			m.CacheResult("all", "miss")
		default:
			t.Fatalf("lookup %d: %v", i, err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs
}

// inputSeries turns the counters of the named families into promtool input
// series that grow by 60 times their value every minute from zero, so a
// rate is the counted lookups per second, an integer: sums are exact
// whatever order the engine adds them in.
func inputSeries(mfs []*dto.MetricFamily, names ...string) string {
	var b strings.Builder
	for _, mf := range mfs {
		if !contains(names, mf.GetName()) {
			continue
		}
		for _, mt := range mf.Metric {
			var labels []string
			for _, lp := range mt.Label {
				labels = append(labels, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
			}
			sort.Strings(labels)
			fmt.Fprintf(&b, "      - series: '%s{%s}'\n        values: '0+%gx20'\n",
				mf.GetName(), strings.Join(labels, ","), 60*mt.GetCounter().GetValue())
		}
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestCacheHitRatioPanelMatchesEmittedMetrics evaluates the "cache hit
// ratio by tier" panel's queries with Prometheus's own engine (promtool)
// over the series the code exports for a known set of lookups, and checks
// the ratios are the ones the lookups imply.
func TestCacheHitRatioPanelMatchesEmittedMetrics(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		testkit.Need(t, "promtool", "install the Debian package that ships it: apt-get install -y prometheus", err)
	}
	var p *panel
	for _, q := range flatten(load(t).Panels) {
		if strings.Contains(strings.ToLower(q.Title), "cache hit ratio by tier") {
			p = &q
			break
		}
	}
	if p == nil {
		t.Fatal("no cache hit ratio by tier panel")
	}
	want := map[string]string{ // refId -> expected samples
		"A": "          - labels: '{tier=\"memory\"}'\n            value: 0.2\n" +
			"          - labels: '{tier=\"disk\"}'\n            value: 0.25\n",
		"B": "          - labels: '{}'\n            value: 0.4\n",
	}
	if len(p.Targets) != len(want) {
		t.Fatalf("panel has %d queries, the test knows %d", len(p.Targets), len(want))
	}
	var tests strings.Builder
	for _, tg := range p.Targets {
		exp, ok := want[tg.RefID]
		if !ok {
			t.Fatalf("query %s: no expectation", tg.RefID)
		}
		expr := strings.ReplaceAll(tg.Expr, "$__rate_interval", "5m")
		fmt.Fprintf(&tests, "      - expr: %q\n        eval_time: 10m\n        exp_samples:\n%s", expr, exp)
	}
	file := "evaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n" +
		inputSeries(cacheMetrics(t), metrics.NameCacheRequests, metrics.NameCacheTierLookups) +
		"    promql_expr_test:\n" + tests.String()
	path := filepath.Join(t.TempDir(), "panel_test.yaml")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), bin, "test", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("the panel's queries do not give the tiers' hit ratios: %v\n%s\n%s", err, out, file)
	}
}
