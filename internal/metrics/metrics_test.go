package metrics_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dsgate/dsgate/internal/metrics"
)

// touchAll gives every collector one child so that Gather reports it.
func touchAll(m *metrics.Metrics) {
	m.ObserveHTTP("/v1/chat/completions", "POST", 502, 1500*time.Millisecond)
	m.CountRequest("/v1/chat/completions", "deepseek-chat", 200, "key_1")
	m.InFlightRequests.Inc()
	m.ObserveTTFT("deepseek-chat", "cloud", 300*time.Millisecond)
	m.InterTokenLatency.WithLabelValues("deepseek-chat").Observe(0.02)
	m.AddTokens("deepseek-chat", "key_1", metrics.Usage{Prompt: 10, Completion: 5, CacheHit: 3, Reasoning: 2})
	m.ObserveUpstream("cloud", metrics.OutcomeSuccess, time.Second)
	m.SetUpstreamHealth("cloud", true, metrics.BreakerClosed)
	m.UpstreamInFlight.WithLabelValues("cloud").Set(2)
	m.StreamStalls.WithLabelValues("cloud").Inc()
	m.Retries.WithLabelValues("cloud", "status_503").Inc()
	m.Fallbacks.WithLabelValues("deepseek-reasoner").Inc()
	m.FallbackResponse("deepseek-chat")
	m.CacheResult("memory", "hit")
	m.RateLimited("rpm")
	m.AuditQueueDepth.Set(7)
	m.AuditDropped.WithLabelValues("queue_full").Inc()
	m.AuditSinkErrors.WithLabelValues("elasticsearch").Inc()
	m.AuditDelivered.WithLabelValues("file").Add(3)
	m.AddCost("deepseek-chat", "key_1", "USD", 0.000624, 0.0001)
	m.AddTeamCost("research", "USD", 0.000624, 0.0001)
	m.AddTeamCost("", "USD", 1, 1) // no team: not counted
	metrics.BudgetObserver{M: m}.Spent("team:a/day/USD", 0.5)
	metrics.BudgetObserver{M: m}.Exhausted("team:a/day/USD")
}

// TestNamesAndLabels pins every exported metric's name, type and label names
// to the documented table.
func TestNamesAndLabels(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := metrics.NewWithOptions(reg, metrics.Options{PrincipalLabel: true})
	touchAll(m)

	want := map[string]string{
		"http_request_duration_seconds":      "HISTOGRAM method,route,status",
		"http_errors_total":                  "COUNTER route,status",
		"dsgate_requests_total":              "COUNTER model,route,status",
		"dsgate_in_flight_requests":          "GAUGE ",
		"dsgate_time_to_first_token_seconds": "HISTOGRAM model,upstream",
		"dsgate_inter_token_latency_seconds": "HISTOGRAM model",
		"dsgate_tokens_total":                "COUNTER kind,model",
		"dsgate_upstream_requests_total":     "COUNTER outcome,upstream",
		"dsgate_upstream_latency_seconds":    "HISTOGRAM upstream",
		"dsgate_upstream_healthy":            "GAUGE upstream",
		"dsgate_upstream_breaker_state":      "GAUGE upstream",
		"dsgate_upstream_in_flight":          "GAUGE upstream",
		"dsgate_stream_stalls_total":         "COUNTER upstream",
		"dsgate_team_cost_total":             "COUNTER currency,team",
		"dsgate_team_cost_saved_total":       "COUNTER currency,team",
		"dsgate_retries_total":               "COUNTER reason,upstream",
		"dsgate_fallbacks_total":             "COUNTER model",
		"dsgate_fallback_responses_total":    "COUNTER model",
		"dsgate_cache_requests_total":        "COUNTER result,tier",
		"dsgate_ratelimit_rejections_total":  "COUNTER limit",
		"dsgate_audit_queue_depth":           "GAUGE ",
		"dsgate_audit_dropped_total":         "COUNTER reason",
		"dsgate_audit_sink_errors_total":     "COUNTER sink",
		"dsgate_audit_delivered_total":       "COUNTER sink",
		"dsgate_principal_requests_total":    "COUNTER principal",
		"dsgate_principal_tokens_total":      "COUNTER kind,principal",
		"dsgate_cost_total":                  "COUNTER currency,model",
		"dsgate_cost_saved_total":            "COUNTER currency,model",
		"dsgate_principal_cost_total":        "COUNTER currency,principal",
		"dsgate_principal_cost_saved_total":  "COUNTER currency,principal",
		"dsgate_budget_spent_ratio":          "GAUGE budget",
		"dsgate_budget_exhausted_total":      "COUNTER budget",
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	got := map[string]string{}
	for _, f := range families {
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		sort.Strings(labels)
		got[f.GetName()] = f.GetType().String() + " " + strings.Join(labels, ",")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metric families mismatch (-want +got):\n%s", diff)
	}

	names := metrics.Names()
	sort.Strings(names)
	var wantNames []string
	for n := range want {
		wantNames = append(wantNames, n)
	}
	sort.Strings(wantNames)
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("Names() out of date (-want +got):\n%s", diff)
	}
	for _, h := range metrics.Histograms() {
		if !strings.HasPrefix(want[h], "HISTOGRAM") {
			t.Errorf("Histograms() lists %s, which is not a histogram", h)
		}
	}

	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

func TestPrincipalCollectorsAreOptIn(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := metrics.New(reg)
	touchAll(m)
	if m.PrincipalRequests != nil || m.PrincipalTokens != nil {
		t.Fatal("principal collectors built without opt-in")
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range families {
		if strings.Contains(f.GetName(), "principal") {
			t.Errorf("%s exported without opt-in", f.GetName())
		}
	}
}

func TestHelpersRecordValues(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := metrics.New(reg)

	m.ObserveHTTP("/v1/models", "GET", 200, time.Millisecond)
	m.ObserveHTTP("/v1/chat/completions", "POST", 503, time.Second)
	m.ObserveHTTP("/v1/chat/completions", "BREW", 429, time.Second)
	if got := testutil.ToFloat64(m.HTTPErrors.WithLabelValues("/v1/chat/completions", "503")); got != 1 {
		t.Errorf("http_errors_total{503} = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.HTTPErrors); n != 1 {
		t.Errorf("http_errors_total has %d series, want 1 (4xx is not an error)", n)
	}
	if n := testutil.CollectAndCount(m.HTTPRequestDuration); n != 3 {
		t.Errorf("http_request_duration_seconds has %d series, want 3", n)
	}
	m.AddTokens("deepseek-chat", "", metrics.Usage{Prompt: 12, Completion: 0, CacheHit: 4})
	if got := testutil.ToFloat64(m.Tokens.WithLabelValues("deepseek-chat", "prompt")); got != 12 {
		t.Errorf("prompt tokens = %v, want 12", got)
	}
	if n := testutil.CollectAndCount(m.Tokens); n != 2 {
		t.Errorf("tokens has %d series, want 2 (zero counts add nothing)", n)
	}

	m.SetUpstreamHealth("local", false, metrics.BreakerOpen)
	if got := testutil.ToFloat64(m.UpstreamBreakerState.WithLabelValues("local")); got != 2 {
		t.Errorf("breaker state = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.UpstreamHealthy.WithLabelValues("local")); got != 0 {
		t.Errorf("healthy = %v, want 0", got)
	}

	var nilM *metrics.Metrics
	nilM.ObserveHTTP("/", "GET", 500, time.Second) // must not panic
	nilM.AddTokens("m", "p", metrics.Usage{Prompt: 1})

	m.Unregister(reg)
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	if len(families) != 0 {
		t.Errorf("after Unregister %d families remain", len(families))
	}
}

func TestStatusAndMethodLabels(t *testing.T) {
	tests := []struct {
		code int
		want string
	}{{200, "200"}, {201, "201"}, {499, "499"}, {504, "504"}, {0, "other"}, {700, "other"}}
	for _, tt := range tests {
		if got := metrics.StatusLabel(tt.code); got != tt.want {
			t.Errorf("StatusLabel(%d) = %q, want %q", tt.code, got, tt.want)
		}
	}
	if got := metrics.MethodLabel("PROPFIND"); got != "other" {
		t.Errorf("MethodLabel(PROPFIND) = %q", got)
	}
	if !slices.Contains(metrics.Names(), metrics.NameHTTPErrors) {
		t.Error("Names lacks http_errors_total")
	}
}

func TestObserveHTTPDoesNotAllocate(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	m.ObserveHTTP("/v1/chat/completions", "POST", 200, time.Second)
	allocs := testing.AllocsPerRun(100, func() {
		m.ObserveHTTP("/v1/chat/completions", "POST", 200, time.Second)
	})
	if allocs > 0 {
		t.Errorf("ObserveHTTP allocates %.1f times per call on an existing series", allocs)
	}
}

// The methods keep the children of the vectors every request observes
// (series): what they count is in the vectors, each label set once, for
// made-up values too, and from many goroutines at once (run with -race).
func TestHotSeriesCountIntoTheirVectors(t *testing.T) {
	m := metrics.NewWithOptions(prometheus.NewRegistry(), metrics.Options{PrincipalLabel: true})
	m.SetNames([]string{"deepseek-chat"}, []string{"cloud"})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 250 {
				model := "deepseek-chat"
				if i%2 == 1 {
					model = fmt.Sprintf("made-up-%d-%d", g, i) // Unknown: one series
				}
				m.CountRequest("/v1/chat/completions", model, 200, "key_1")
				m.ObserveHTTP("/v1/chat/completions", "POST", 200, time.Millisecond)
				m.AddTokens(model, "key_1", metrics.Usage{Prompt: 2, Completion: 1})
				m.ObserveUpstream("cloud", metrics.OutcomeSuccess, time.Millisecond)
				m.CacheResult("memory", "miss")
				m.AddCost(model, "key_1", "USD", 0.5, 0.25)
				m.ObserveTTFT(model, "cloud", time.Millisecond)
				m.ObserveInterToken(model, time.Millisecond)
			}
		})
	}
	wg.Wait()
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"requests", testutil.ToFloat64(m.Requests.WithLabelValues("/v1/chat/completions", "deepseek-chat", "200")), 1000},
		{"requests of made-up models", testutil.ToFloat64(m.Requests.WithLabelValues("/v1/chat/completions", metrics.Unknown, "200")), 1000},
		{"principal requests", testutil.ToFloat64(m.PrincipalRequests.WithLabelValues("key_1")), 2000},
		{"prompt tokens", testutil.ToFloat64(m.Tokens.WithLabelValues("deepseek-chat", "prompt")), 2000},
		{"principal completion tokens", testutil.ToFloat64(m.PrincipalTokens.WithLabelValues("key_1", "completion")), 2000},
		{"upstream requests", testutil.ToFloat64(m.UpstreamRequests.WithLabelValues("cloud", metrics.OutcomeSuccess)), 2000},
		{"cache misses", testutil.ToFloat64(m.CacheRequests.WithLabelValues("memory", "miss")), 2000},
		{"cost", testutil.ToFloat64(m.Cost.WithLabelValues(metrics.Unknown, "USD")), 500},
		{"principal savings", testutil.ToFloat64(m.PrincipalCostSaved.WithLabelValues("key_1", "USD")), 500},
		{"request durations", float64(testutil.CollectAndCount(m.HTTPRequestDuration)), 1},
		{"upstream latency series", float64(testutil.CollectAndCount(m.UpstreamLatency)), 1},
		{"request series", float64(testutil.CollectAndCount(m.Requests)), 2},
		{"first-token series", float64(testutil.CollectAndCount(m.TimeToFirstToken)), 2},
		{"inter-token series", float64(testutil.CollectAndCount(m.InterTokenLatency)), 2},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestHotSeriesDoNotAllocate(t *testing.T) {
	m := metrics.NewWithOptions(prometheus.NewRegistry(), metrics.Options{PrincipalLabel: true})
	observe := func() {
		m.CountRequest("/v1/chat/completions", "deepseek-chat", 200, "key_1")
		m.AddTokens("deepseek-chat", "key_1", metrics.Usage{Prompt: 2, Completion: 1})
		m.ObserveUpstream("cloud", metrics.OutcomeSuccess, time.Millisecond)
		m.CacheResult("memory", "miss")
		m.AddCost("deepseek-chat", "key_1", "USD", 0.5, 0.25)
		m.ObserveTTFT("deepseek-chat", "cloud", time.Millisecond)
		m.ObserveInterToken("deepseek-chat", time.Millisecond)
	}
	observe()
	if allocs := testing.AllocsPerRun(100, observe); allocs > 0 {
		t.Errorf("a request's metrics allocate %.1f times on existing series", allocs)
	}
}
