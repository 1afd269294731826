package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

// A deepseek upstream's balance, read from a stand-in that answers
// GET /user/balance as DeepSeek documents it, reaches /metrics with the
// upstream's own key; a refused read is counted; requests are served as usual.
func TestDeepSeekBalanceReachesMetrics(t *testing.T) {
	t.Setenv("DSGATE_TEST_DS_KEY", "sk-balance")
	t.Setenv("DSGATE_TEST_DS_BAD_KEY", "sk-revoked")
	var gotAuth atomic.Value
	ds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/user/balance" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer sk-balance" {
			http.Error(w, `{"error":{"message":"Authentication Fails"}}`, http.StatusUnauthorized)
			return
		}
		gotAuth.Store(r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"is_available":true,"balance_infos":[{"currency":"CNY","total_balance":"7.25","granted_balance":"0.00","topped_up_balance":"7.25"}]}`)
	}))
	defer ds.Close()
	cfg := `
version: 1
server: {listen: "127.0.0.1:0", shutdown_grace: 5s}
log: {access: false}
upstreams:
  - {name: a, kind: openai, url: "$a"}
  - {name: cloud, kind: deepseek, url: "` + ds.URL + `", api_key: "${DSGATE_TEST_DS_KEY}", balance_poll_interval: 10s}
  - {name: cloud-wrong-key, kind: deepseek, url: "` + ds.URL + `", api_key: "${DSGATE_TEST_DS_BAD_KEY}"}
models:
  - {name: deepseek-v4-flash, targets: [{upstream: a, model: deepseek-chat}, {upstream: cloud, priority: 1}]}
  - {name: deepseek-v4-pro, targets: [{upstream: cloud-wrong-key}]}
`
	e := start(t, cfg, map[string]sim.Options{"a": {}})
	scrape := func() string {
		resp, err := http.Get(e.base + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	testkit.Eventually(t, 5*time.Second, "balance gauge", func() bool {
		return strings.Contains(scrape(), `dsgate_upstream_balance{currency="CNY",upstream="cloud"} 7.25`)
	})
	// The refused read is counted (and logged), and exports no balance.
	testkit.Eventually(t, 5*time.Second, "failure counter", func() bool {
		return strings.Contains(scrape(), `dsgate_upstream_balance_poll_failures_total{upstream="cloud-wrong-key"} 1`)
	})
	page := scrape()
	if strings.Contains(page, `dsgate_upstream_balance{currency="CNY",upstream="cloud-wrong-key"}`) {
		t.Error("a refused balance read exported a balance")
	}
	for _, want := range []string{`dsgate_upstream_balance_available{upstream="cloud"} 1`, `dsgate_upstream_balance_poll_failures_total{upstream="cloud"} 0`} {
		if !strings.Contains(page, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(page, `dsgate_upstream_balance_poll_failures_total{upstream="a"}`) {
		t.Error("an openai upstream exports balance series")
	}
	if got := gotAuth.Load(); got != "Bearer sk-balance" {
		t.Errorf("balance read sent Authorization %v, want the upstream's key", got)
	}
	resp, body := e.post(t, "/v1/chat/completions", `{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"hi"}],"max_tokens":4}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("chat: %d %s", resp.StatusCode, body)
	}
}
