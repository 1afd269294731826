package server_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/testkit"
)

// TestTeamsBudgetsAndReport is issue 16's "done when" end to end: keys in
// a team, a team budget that refuses the team once spent while a key
// outside it carries on, and a usage report (GET /admin/usage/report)
// equal, to the nano-unit, to the sum of the audit records of the same
// requests.
func TestTeamsBudgetsAndReport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startAuth(t, `audit: {enabled: true, dir: "`+dir+`"}
pricing:
  models:
    - {model: "*", upstream: a, internal: true, currency: USD, cache_hit: "0.1", cache_miss: "1", output: "2"}
budgets:
  rules:
    - {subject: team:research, period: day, amount: "0.0005", currency: USD}`)
	mustDo := func(method, path, body string, want int) []byte {
		t.Helper()
		resp, b := e.do(t, method, path, e.adminKey, body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return b
	}
	type created struct{ ID, Key string }
	newKey := func(name string) created {
		var c created
		json.Unmarshal(mustDo("POST", "/admin/keys", `{"name":"`+name+`","role":"developer"}`, 201), &c)
		return c
	}
	k1, k2, out := newKey("k1"), newKey("k2"), newKey("outsider")
	mustDo("PUT", "/admin/teams/research", `{"models":["deepseek-chat"]}`, 200)
	mustDo("PUT", "/admin/teams/research/members/key/"+k1.ID, ``, 200)
	b := mustDo("PUT", "/admin/teams/research/members/key/"+k2.ID, ``, 200)
	var team admin.TeamView
	if json.Unmarshal(b, &team); len(team.Members) != 2 {
		t.Fatalf("team %s", b)
	}

	chat := func(key, model string) (int, string) {
		resp, body := e.do(t, "POST", "/v1/chat/completions", key,
			`{"model":"`+model+`","max_tokens":30,"messages":[{"role":"user","content":"count to ten"}]}`)
		var er struct {
			Error struct{ Code string } `json:"error"`
		}
		json.Unmarshal(body, &er)
		return resp.StatusCode, er.Error.Code
	}
	if code, _ := chat(k1.Key, "deepseek-reasoner"); code != http.StatusForbidden {
		t.Errorf("a model outside the team's allow-list: %d", code)
	}
	var refused bool
	requests := 0
	for i := 0; i < 40 && !refused; i++ {
		key := k1.Key
		if i%2 == 1 {
			key = k2.Key
		}
		code, errCode := chat(key, "deepseek-chat")
		requests++
		switch {
		case code == http.StatusTooManyRequests && errCode == "budget_exhausted":
			refused = true
		case code != 200:
			t.Fatalf("request %d: %d %s", i, code, errCode)
		}
	}
	if !refused {
		t.Fatal("the team budget never ran out")
	}
	if code, _ := chat(out.Key, "deepseek-chat"); code != 200 {
		t.Errorf("a key outside the team refused: %d", code)
	}
	requests++

	// Usage is flushed every second; wait for all of it.
	var report struct {
		Data []admin.ReportLine `json:"data"`
	}
	testkit.Eventually(t, 10*time.Second, "usage to reach the store", func() bool {
		json.Unmarshal(mustDo("GET", "/admin/usage/report?group_by=team,principal,model,day", "", 200), &report)
		n := int64(0)
		for _, l := range report.Data {
			n += l.Requests
		}
		return n >= int64(requests)
	})
	var budgets struct {
		Data []admin.BudgetView `json:"data"`
	}
	json.Unmarshal(mustDo("GET", "/admin/budgets", "", 200), &budgets)
	if len(budgets.Data) != 1 || budgets.Data[0].Subject != "team:research" || budgets.Data[0].Ratio < 1 {
		t.Errorf("budgets %+v", budgets.Data)
	}
	csv := string(mustDo("GET", "/admin/usage/report?group_by=team,model&format=csv", "", 200))
	if !strings.HasPrefix(csv, "team,model,currency,requests,") || !strings.Contains(csv, "research,deepseek-chat,USD,") {
		t.Errorf("csv:\n%s", csv)
	}

	e.stop()
	<-e.done
	e.done <- nil
	var entries []admin.ReportEntry
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.jsonl"))
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev audit.Event
			if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Model == "" || ev.Route != "POST /v1/chat/completions" || ev.Status == 403 {
				continue
			}
			entries = append(entries, admin.ReportEntry{Kind: "key", Principal: ev.Principal, Model: ev.Model, At: ev.RequestAt,
				Requests: 1, PromptTokens: int64(ev.PromptTokens), CacheHitTokens: int64(ev.CacheHitTokens),
				CompletionTokens: int64(ev.CompletionTokens), Cost: ev.Cost, Saved: ev.CostSaved, Currency: ev.Currency})
		}
		f.Close()
	}
	teamOf := func(_ string, id string) string {
		if id == k1.ID || id == k2.ID {
			return "research"
		}
		return ""
	}
	fromAudit := admin.BuildReport(entries, []string{"team", "principal", "model", "day"}, time.UTC,
		func(k store.PrincipalKind, id string) string { return teamOf(string(k), id) })
	// The refused request is recorded by both with no tokens and no
	// currency; drop currency-less lines from both sides.
	priced := func(ls []admin.ReportLine) []admin.ReportLine {
		var out []admin.ReportLine
		for _, l := range ls {
			if l.Currency != "" {
				out = append(out, l)
			}
		}
		return out
	}
	got, want := priced(report.Data), priced(fromAudit)
	if len(got) != 3 || len(got) != len(want) {
		t.Fatalf("report %+v\naudit %+v", got, want)
	}
	var total int64
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("line %d:\nreport %+v\naudit  %+v", i, got[i], want[i])
		}
		total += got[i].CostNano
	}
	t.Logf("%d requests, %d report lines; total cost %d nano-USD, equal to the audit trail", requests, len(got), total)
}
