package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/metrics/metricstest"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storeopen"
	"github.com/dsgate/dsgate/internal/testkit"
)

// dashboardPath is the Grafana dashboard the operations guide ships.
const dashboardPath = "../../deploy/grafana/dsgate.json"

// overloadOnly names the charted series that only an overload feeds, with
// the test that covers their increments instead: they cannot be fed by a
// handful of requests without filling a 16 MiB spool.
var overloadOnly = map[string]string{
	"dsgate_audit_dropped_total": "internal/audit TestSpoolFullPolicies (a full spool)",
}

// TestDashboardSeriesAreFed runs a full gateway (auth, cache, audit with a
// failing Elasticsearch sink, a DeepSeek upstream with its balance, and
// upstreams that fail and stall), sends the traffic the dashboard is about,
// a 429 and a reasoning answer among it, then scrapes /metrics and checks
// that every dsgate series a panel charts has at least one sample, label
// matchers of the query included (kind="reasoning", result="hit"). A panel
// whose series nothing feeds shows "No data" in production: this catches a
// metric that was declared and charted but never wired.
func TestDashboardSeriesAreFed(t *testing.T) {
	t.Setenv("DSGATE_TEST_DASH_KEY", "sk-dash")
	t.Setenv("DSGATE_TEST_DASH_BAD_KEY", "sk-revoked")
	dir := t.TempDir()
	db := filepath.Join(dir, "dsgate.db")
	kek := filepath.Join(dir, "kek")
	if err := os.WriteFile(kek, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	es := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
	}))
	t.Cleanup(es.Close)
	cfg := `
version: 1
server: {listen: "127.0.0.1:0", shutdown_grace: 5s}
log: {access: false}
store: {dsn: "` + db + `"}
auth:
  enabled: true
  signing_key_encryption_key: "file:` + kek + `"
cache: {enabled: true}
audit: {enabled: true, dir: "` + filepath.Join(dir, "audit") + `", elasticsearch: {url: "` + es.URL + `"}}
upstreams:
  - {name: cloud, kind: deepseek, url: "$ds", api_key: "${DSGATE_TEST_DASH_KEY}", balance_poll_interval: 10s}
  - {name: cloud-wrong-key, kind: deepseek, url: "$ds", api_key: "${DSGATE_TEST_DASH_BAD_KEY}"}
  - {name: bad, kind: openai, url: "$bad"}
  - {name: stall, kind: openai, url: "$stall", idle_timeout: 200ms}
models:
  - {name: deepseek-v4-flash, targets: [{upstream: cloud}]}
  - {name: deepseek-v4-pro, targets: [{upstream: cloud}]}
  - {name: flaky, targets: [{upstream: bad, model: deepseek-chat}, {upstream: cloud, model: deepseek-v4-flash, priority: 1}]}
  - {name: broken, targets: [{upstream: bad, model: deepseek-chat}]}
  - {name: rescued, targets: [{upstream: bad, model: deepseek-chat}], fallbacks: [deepseek-v4-flash]}
  - {name: canned, targets: [{upstream: bad, model: deepseek-chat}], fallback_response: "try again later"}
  - {name: stalled, targets: [{upstream: stall, model: deepseek-chat}]}
  - {name: unpaid, targets: [{upstream: cloud-wrong-key, model: deepseek-v4-flash}]}
`
	key := createKey(t, db, "--name", "dash", "--role", "developer")
	small := createKey(t, db, "--name", "small", "--role", "developer", "--rpm", "1")
	// A key whose daily budget a few requests spend (budget panels).
	thrifty := createKey(t, db, "--name", "thrifty", "--role", "developer")
	thriftyID := strings.Split(thrifty, "_")[1]
	// The dash key belongs to a team (spend and savings by team).
	joinTeam(t, db, "research", strings.Split(key, "_")[1])
	cfg += "budgets:\n  rules:\n    - {subject: \"key:" + thriftyID + "\", period: day, amount: \"0.0001\", currency: USD}\n"
	e := start(t, cfg, map[string]sim.Options{
		"ds":    {Personality: sim.PersonalityDeepSeek, APIKey: "sk-dash"},
		"bad":   {Models: []string{"deepseek-chat"}, Faults: sim.Faults{ErrorRate: 1, ErrorStatus: 503}},
		"stall": {Models: []string{"deepseek-chat"}, Faults: sim.Faults{StallAfterChunks: 2}},
	})
	send := func(key, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.base+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	// chat is a request body; cacheable ones turn thinking off and fix the
	// temperature, which the response cache requires.
	chat := func(model string, stream, cacheable bool) string {
		extra := ""
		if stream {
			extra += `"stream":true,"stream_options":{"include_usage":true},`
		}
		if cacheable {
			extra += `"thinking":{"type":"disabled"},"temperature":0,`
		}
		return fmt.Sprintf(`{"model":%q,%s"max_tokens":12,`+
			`"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"hello"}]}`, model, extra)
	}

	// A reasoning answer, streamed (time to first token, inter-token
	// latency, reasoning tokens), then the same prompt again for DeepSeek's
	// context cache (cache_hit tokens).
	for range 2 {
		if code := send(key, chat("deepseek-v4-pro", true, false)); code != http.StatusOK {
			t.Fatalf("reasoning stream: %d", code)
		}
	}
	// The gateway's response cache: a miss, then a hit.
	for range 2 {
		if code := send(key, chat("deepseek-v4-flash", false, true)); code != http.StatusOK {
			t.Fatalf("cached chat: %d", code)
		}
	}
	// A 429 from the principal's rate limit.
	send(small, chat("deepseek-v4-flash", false, true))
	if code := send(small, chat("deepseek-v4-flash", false, true)); code != http.StatusTooManyRequests {
		t.Fatalf("second request at 1 rpm: %d, want 429", code)
	}
	// Spend the thrifty key's budget: answers until it is exhausted (429).
	exhausted := false
	for range 20 {
		if send(thrifty, chat("deepseek-v4-flash", false, false)) == http.StatusTooManyRequests {
			exhausted = true
			break
		}
	}
	if !exhausted {
		t.Fatal("a budget of 0.0001 USD was never exhausted")
	}
	// A retry on another upstream, a fallback model, a canned fallback
	// response, an all-failed 5xx and a stalled stream.
	for _, c := range []struct {
		model  string
		stream bool
		want   int
	}{{"flaky", false, 200}, {"rescued", false, 200}, {"canned", false, 200}, {"broken", false, 503}, {"stalled", true, 200}} {
		if code := send(key, chat(c.model, c.stream, false)); code != c.want {
			t.Errorf("%s: %d, want %d", c.model, code, c.want)
		}
	}

	// Balance polls and audit deliveries run in the background: wait for
	// them, then check every charted series once.
	async := []selector{
		{name: "dsgate_upstream_balance", labels: map[string]string{"upstream": "cloud"}},
		{name: "dsgate_upstream_balance_poll_failures_total", labels: map[string]string{"upstream": "cloud-wrong-key"}},
		{name: "dsgate_audit_sink_errors_total", labels: map[string]string{"sink": "elasticsearch"}},
		{name: "dsgate_audit_delivered_total", labels: map[string]string{"sink": "file"}},
	}
	testkit.Eventually(t, 10*time.Second, "balance polls and audit deliveries", func() bool {
		return len(missingSeries(t, e.base, async)) == 0
	})
	if missing := missingSeries(t, e.base, chartedSeries(t)); len(missing) > 0 {
		t.Errorf("charted series with no sample: %s", strings.Join(missing, ", "))
	}
}

// selector is a metric name and the equality label matchers one dashboard
// query puts on it.
type selector struct {
	name   string
	labels map[string]string
}

func (s selector) String() string {
	if len(s.labels) == 0 {
		return s.name
	}
	var kv []string
	for k, v := range s.labels {
		kv = append(kv, k+"="+`"`+v+`"`)
	}
	slices.Sort(kv)
	return s.name + "{" + strings.Join(kv, ",") + "}"
}

var (
	selectorRe = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?`)
	equalityRe = regexp.MustCompile(`(\w+)\s*=\s*"([^"$]*)"`)
)

// chartedSeries reads the dashboard and returns the dsgate selectors its
// panels query (other exporters' series, DCGM and vLLM, are not dsgate's to
// feed). Regex and variable matchers are dropped: they select all series.
func chartedSeries(t *testing.T) []selector {
	t.Helper()
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []dashPanel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboardPath, err)
	}
	external := metricstest.External()
	seen := map[string]bool{}
	var out []selector
	for _, expr := range exprs(d.Panels) {
		names := metricstest.MetricNames(expr)
		for _, m := range selectorRe.FindAllStringSubmatch(expr, -1) {
			if !slices.Contains(names, m[1]) || slices.Contains(external, m[1]) {
				continue
			}
			s := selector{name: m[1], labels: map[string]string{}}
			for _, lm := range equalityRe.FindAllStringSubmatch(m[2], -1) {
				s.labels[lm[1]] = lm[2]
			}
			if !seen[s.String()] {
				seen[s.String()] = true
				out = append(out, s)
			}
		}
	}
	if len(out) < 20 {
		t.Fatalf("found only %d dsgate selectors in %s", len(out), dashboardPath)
	}
	return out
}

type dashPanel struct {
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"`
}

func exprs(ps []dashPanel) []string {
	var out []string
	for _, p := range ps {
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
		out = append(out, exprs(p.Panels)...)
	}
	return out
}

// missingSeries scrapes base/metrics and returns the selectors of want
// (those in overloadOnly aside) that no sample matches.
func missingSeries(t *testing.T, base string, want []selector) []string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	samples := parseSamples(string(page))
	var missing []string
	for _, s := range want {
		if _, ok := overloadOnly[s.name]; ok {
			continue
		}
		if !slices.ContainsFunc(samples, s.matches) {
			missing = append(missing, s.String())
		}
	}
	return missing
}

// sample is one line of the Prometheus text format: a series name and its
// labels (the value does not matter here).
type sample struct {
	name   string
	labels map[string]string
}

var sampleLabelRe = regexp.MustCompile(`(\w+)="((?:[^"\\]|\\.)*)"`)

// parseSamples reads the sample lines of a text-format page.
func parseSamples(page string) []sample {
	var out []sample
	for _, line := range strings.Split(page, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		s := sample{labels: map[string]string{}}
		if i := strings.LastIndex(rest, "}"); i >= 0 {
			s.name = name
			for _, m := range sampleLabelRe.FindAllStringSubmatch(rest[:i], -1) {
				s.labels[m[1]] = m[2]
			}
		} else {
			s.name, _, _ = strings.Cut(line, " ")
		}
		out = append(out, s)
	}
	return out
}

// matches reports whether sm is a sample of the selector's series.
func (s selector) matches(sm sample) bool {
	if sm.name != s.name {
		return false
	}
	for k, v := range s.labels {
		if sm.labels[k] != v {
			return false
		}
	}
	return true
}

// joinTeam makes team in the store at db and puts key id in it.
func joinTeam(t *testing.T, db, team, id string) {
	t.Helper()
	ctx := t.Context()
	st, err := storeopen.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := st.(store.TeamStore)
	if err := ts.PutTeam(ctx, store.Team{Name: team, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := ts.SetTeamMember(ctx, store.KindKey, id, team); err != nil {
		t.Fatal(err)
	}
}
