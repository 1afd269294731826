package metrics_test

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dsgate/dsgate/internal/metrics"
)

// TestLabelsCarryOnlyConfiguredNames is issue 13's series flood: every
// model string a caller sent became a label, even on 403/404/429. Only
// configured names become labels now; the rest are "unknown".
func TestLabelsCarryOnlyConfiguredNames(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m := metrics.New(reg)
	m.SetNames([]string{"deepseek-chat"}, []string{"cloud"})
	for i := range 5000 {
		model := "made-up-" + strconv.Itoa(i)
		for _, status := range []int{403, 404, 429} {
			m.CountRequest("POST /v1/chat/completions", model, status, "")
		}
		m.AddTokens(model, "", metrics.Usage{Prompt: 1})
		m.ObserveTTFT(model, "upstream-"+strconv.Itoa(i), time.Millisecond)
		m.ObserveUpstream("upstream-"+strconv.Itoa(i), "success", time.Millisecond)
	}
	m.CountRequest("POST /v1/chat/completions", "deepseek-chat", 200, "")
	if n := testutil.CollectAndCount(m.Requests); n != 4 {
		t.Errorf("%d request series for 5000 made-up models; want 4 (unknown x3 statuses, deepseek-chat)", n)
	}
	for name, c := range map[string]prometheus.Collector{"tokens": m.Tokens, "ttft": m.TimeToFirstToken, "upstream": m.UpstreamRequests} {
		if n := testutil.CollectAndCount(c); n != 1 {
			t.Errorf("%s: %d series; want 1", name, n)
		}
	}
	if got := testutil.ToFloat64(m.Requests.WithLabelValues("POST /v1/chat/completions", metrics.Unknown, "404")); got != 5000 {
		t.Errorf("unknown 404s = %v", got)
	}
}

// TestInvalidLabelValuesDoNotPanic is issue 13's item 5: a model name that
// is not valid UTF-8 made client_golang panic inside the request (the
// client got two JSON objects and the request no audit record). Every
// method makes its label values valid and bounded.
func TestInvalidLabelValuesDoNotPanic(t *testing.T) {
	t.Parallel()
	m := metrics.New(prometheus.NewPedanticRegistry()) // no SetNames: values pass, made safe
	bad := "deepseek-\xff\xfe-chat"
	long := strings.Repeat("é", 500)
	for _, v := range []string{bad, long, ""} {
		m.CountRequest(v, v, 404, v)
		m.AddTokens(v, v, metrics.Usage{Prompt: 1, Completion: 1})
		m.ObserveHTTP(v, "POST", 404, time.Millisecond)
		m.ObserveTTFT(v, v, time.Millisecond)
		m.ObserveInterToken(v, time.Millisecond)
		m.ObserveUpstream(v, v, time.Millisecond)
		m.SetUpstreamHealth(v, true, 0)
		m.SetUpstreamInFlight(v, 1)
		m.Retry(v, v)
		m.Fallback(v)
		m.FallbackResponse(v)
		m.Stall(v)
		m.CacheResult(v, v)
		m.RateLimited(v)
	}
	for _, v := range []string{metrics.Label(bad), metrics.Label(long)} {
		if !utf8.ValidString(v) || len(v) > metrics.MaxLabelLen {
			t.Errorf("Label gave %q (%d bytes)", v, len(v))
		}
	}
	if s := "deepseek-chat"; metrics.Label(s) != s {
		t.Error("a safe value was changed")
	}
}
