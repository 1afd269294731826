package grafana_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/dsgate/dsgate/internal/metrics/metricstest"
)

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	GridPos    struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"`
			Definition string          `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

func load(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("dsgate.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dsgate.json: %v", err)
	}
	return d
}

func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

// TestPanelsQueryKnownMetrics: every panel has a data source and queries,
// and every metric a query selects exists.
func TestPanelsQueryKnownMetrics(t *testing.T) {
	d := load(t)
	if d.UID == "" || d.Title == "" {
		t.Fatal("dashboard needs a uid and a title")
	}
	known := metricstest.Known()
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range flatten(d.Panels) {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q: data source must be the ${datasource} variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			names := metricstest.MetricNames(tg.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q query %s selects no metric: %s", p.Title, tg.RefID, tg.Expr)
			}
			for _, n := range names {
				used[n] = true
				if !known[n] {
					t.Errorf("panel %q query %s: unknown metric %q", p.Title, tg.RefID, n)
				}
			}
		}
	}

	// Every dsgate metric is on the dashboard except the opt-in per-principal ones.
	for _, n := range metrics.Names() {
		if strings.HasPrefix(n, "dsgate_principal_") {
			continue
		}
		base := used[n] || used[n+"_bucket"] || used[n+"_count"]
		if !base {
			t.Errorf("metric %s is on no panel", n)
		}
	}
	for _, n := range []string{"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "vllm:num_requests_running", "vllm:kv_cache_usage_perc"} {
		if !used[n] {
			t.Errorf("external metric %s is on no panel", n)
		}
	}
}

func TestRequiredPanels(t *testing.T) {
	var titles []string
	for _, p := range flatten(load(t).Panels) {
		titles = append(titles, strings.ToLower(p.Title))
	}
	for _, want := range []string{"request rate", "error ratio", "p50 / p99", "time to first token", "tokens in / out",
		"cache hit ratio", "upstream healthy", "circuit breaker", "in flight", "rate-limit", "audit backlog",
		"gpu utilisation", "gpu memory", "vllm requests", "kv-cache"} {
		if !slices.ContainsFunc(titles, func(s string) bool { return strings.Contains(s, want) }) {
			t.Errorf("no panel title contains %q", want)
		}
	}
}

// TestVariablesQueryKnownMetrics checks label_values(metric, label) variables.
func TestVariablesQueryKnownMetrics(t *testing.T) {
	known := metricstest.Known()
	re := regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*(\w+)\s*\)$`)
	for _, v := range load(t).Templating.List {
		if v.Type != "query" {
			continue
		}
		m := re.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: definition %q is not label_values(metric, label)", v.Name, v.Definition)
			continue
		}
		if !known[m[1]] {
			t.Errorf("variable %s: unknown metric %q", v.Name, m[1])
		}
	}
}
