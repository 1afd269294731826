package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/testkit"
)

// Prices and budgets written through the admin API apply at once, without
// a restart or a reload, on top of the configuration; deleting them goes
// back to it; only a role allowed to update admin:usage may write them.
func TestRuntimePriceAndBudgetOverrides(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startAuth(t, `audit: {enabled: true, dir: "`+dir+`"}
budgets:
  rules:
    - {subject: team:nobody, period: day, amount: "100", currency: USD}`)
	mustDo := func(method, path, body string, want int) []byte {
		t.Helper()
		resp, b := e.do(t, method, path, e.adminKey, body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	var dev struct{ ID, Key string }
	json.Unmarshal(mustDo("POST", "/admin/keys", `{"name":"dev","role":"developer"}`, 201), &dev)
	chat := func() *http.Response {
		t.Helper()
		resp, b := e.do(t, "POST", "/v1/chat/completions", dev.Key,
			`{"model":"deepseek-chat","max_tokens":20,"messages":[{"role":"user","content":"count to ten"}]}`)
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("chat: %d %s", resp.StatusCode, b)
		}
		return resp
	}

	// The simulator upstream (kind openai) has no price in the config.
	if got := chat().Header.Get("X-Dsgate-Cost"); got != "" {
		t.Fatalf("cost before any price: %q", got)
	}
	price := `{"currency":"USD","internal":true,"cache_hit":"0","cache_miss":"1000","output":"1000"}`
	if resp, b := e.do(t, "PUT", "/admin/prices/*?upstream=a", dev.Key, price); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("developer writing a price: %d %s", resp.StatusCode, b)
	}
	mustDo("PUT", "/admin/prices/*?upstream=nowhere", price, 400)          // no such upstream
	mustDo("PUT", "/admin/prices/*?upstream=a", `{"cache_miss":"x"}`, 400) // not a price
	mustDo("PUT", "/admin/prices/*?upstream=a", price, 200)
	cost := chat().Header.Get("X-Dsgate-Cost")
	if !strings.HasSuffix(cost, " USD") || strings.HasPrefix(cost, "0.000000000") {
		t.Fatalf("cost after the price was set: %q", cost)
	}
	var prices struct{ Data []map[string]any }
	json.Unmarshal(mustDo("GET", "/admin/prices", "", 200), &prices)
	if len(prices.Data) != 1 || prices.Data[0]["upstream"] != "a" || prices.Data[0]["cache_miss"] != "1000" {
		t.Fatalf("GET /admin/prices: %+v", prices.Data)
	}

	// A budget on the key, tiny: the next request is admitted (nothing
	// spent yet), then it is spent and requests are refused.
	budgetPath := "/admin/budgets/key:" + dev.ID + "/day/USD"
	mustDo("PUT", budgetPath, `{"amount":"0.000001"}`, 200)
	mustDo("PUT", "/admin/budgets/key:"+dev.ID+"/fortnight/USD", `{"amount":"1"}`, 400)
	refused := false
	for range 3 {
		if chat().StatusCode == http.StatusTooManyRequests {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("a budget set through the admin API never refused")
	}
	var overrides struct{ Data []map[string]any }
	json.Unmarshal(mustDo("GET", "/admin/budgets/overrides", "", 200), &overrides)
	if len(overrides.Data) != 1 || overrides.Data[0]["amount"] != "0.000001" {
		t.Fatalf("GET /admin/budgets/overrides: %+v", overrides.Data)
	}
	var status struct{ Data []map[string]any }
	json.Unmarshal(mustDo("GET", "/admin/budgets", "", 200), &status)
	if len(status.Data) != 2 { // the config's and the override
		t.Fatalf("GET /admin/budgets: %+v", status.Data)
	}

	gauge := `dsgate_budget_spent_ratio{budget="key:` + dev.ID + `/day/USD"}`
	if m := string(mustDo("GET", "/metrics", "", 200)); !strings.Contains(m, gauge) {
		t.Fatalf("no %s in /metrics", gauge)
	}

	// Deleting both goes back to the configuration: no budget on the key
	// (and no gauge left behind for an alert to fire on), no price on the
	// upstream.
	mustDo("DELETE", budgetPath, "", 204)
	if m := string(mustDo("GET", "/metrics", "", 200)); strings.Contains(m, gauge) {
		t.Fatalf("%s still exported after the budget was deleted", gauge)
	}
	mustDo("DELETE", budgetPath, "", 404)
	mustDo("DELETE", "/admin/prices/*?upstream=a", "", 204)
	resp := chat()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Dsgate-Cost") != "" {
		t.Fatalf("after deleting the overrides: %d, cost %q", resp.StatusCode, resp.Header.Get("X-Dsgate-Cost"))
	}

	// Every write has its audit record: who, which route, what status.
	e.stop()
	<-e.done
	e.done <- nil
	writes := map[string]int{}
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.jsonl"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var ev audit.Event
			if json.Unmarshal([]byte(line), &ev) == nil && strings.Contains(ev.Route, "/admin/") &&
				(strings.HasPrefix(ev.Route, "PUT") || strings.HasPrefix(ev.Route, "DELETE")) {
				writes[ev.Route+" "+strconv.Itoa(ev.Status)+" "+ev.Role]++
			}
		}
	}
	for _, want := range []string{"PUT /admin/prices/ 200 admin", "PUT /admin/prices/ 403 developer", "DELETE /admin/prices/ 204 admin",
		"PUT /admin/budgets/ 200 admin", "DELETE /admin/budgets/ 204 admin"} {
		if writes[want] == 0 {
			t.Errorf("no audit record %q; have %v", want, writes)
		}
	}
}

// A price written through one replica reaches another sharing the store
// within its refresh period (10 s), without a reload.
func TestPriceOverrideReachesOtherReplica(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one := startAuthIn(t, dir, "")
	two := startAuthIn(t, dir, "")
	cost := func(e *authEnv) string {
		t.Helper()
		resp, b := e.do(t, "POST", "/v1/chat/completions", one.adminKey,
			`{"model":"deepseek-chat","max_tokens":20,"messages":[{"role":"user","content":"count to ten"}]}`)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("chat: %d %s", resp.StatusCode, b)
		}
		return resp.Header.Get("X-Dsgate-Cost")
	}
	if c := cost(two); c != "" {
		t.Fatalf("cost before any price: %q", c)
	}
	resp, b := one.do(t, "PUT", "/admin/prices/*?upstream=a", one.adminKey,
		`{"currency":"CNY","internal":true,"cache_hit":"0","cache_miss":"1000","output":"1000"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT price: %d %s", resp.StatusCode, b)
	}
	testkit.Eventually(t, 15*time.Second, "the other replica prices with the override", func() bool {
		return strings.HasSuffix(cost(two), " CNY")
	})
}
