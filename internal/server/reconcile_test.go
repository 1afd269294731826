package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/cli"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storeopen"
	"github.com/dsgate/dsgate/internal/testkit"
	"github.com/dsgate/dsgate/internal/usage"
)

// TestReportsEqualTheAuditTrail drives real requests through the server
// (misses, response-cache hits, streams, two models, a request refused
// before admission and one without a key) and checks that
// GET /admin/usage/report, per hour and per day, in UTC and in
// Asia/Kolkata (+05:30), equals the sum of the audit records of the same
// requests to the nano-unit, cache hits counted with zero cost and their
// savings; then that `dsgate usage reconcile` finds the store equal to the
// audit trail, and reports a usage row tampered with.
func TestReportsEqualTheAuditTrail(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startAuth(t, `audit: {enabled: true, dir: "`+dir+`"}
cache: {enabled: true}
pricing:
  models:
    - {model: "*", upstream: a, internal: true, currency: USD, cache_hit: "0.1", cache_miss: "1.3", output: "2.7"}`)
	newKey := func(spec string) (id, key string) {
		resp, b := e.do(t, "POST", "/admin/keys", e.adminKey, spec)
		var c struct{ ID, Key string }
		if json.Unmarshal(b, &c); resp.StatusCode != 201 {
			t.Fatalf("create key: %d %s", resp.StatusCode, b)
		}
		return c.ID, c.Key
	}
	idA, keyA := newKey(`{"name":"a","role":"developer"}`)
	_, keyB := newKey(`{"name":"b","role":"developer"}`)
	_, keyC := newKey(`{"name":"c","role":"developer","models":["deepseek-chat"]}`)

	metered := 0
	chat := func(key, body string, want int) {
		t.Helper()
		resp, b := e.do(t, "POST", "/v1/chat/completions", key, body)
		if resp.StatusCode != want {
			t.Fatalf("%s: %d %s", body, resp.StatusCode, b)
		}
		if want == http.StatusOK {
			metered++
		}
	}
	msg := func(model, text string, extra string) string {
		return `{"model":"` + model + `","temperature":0,"max_tokens":12` + extra +
			`,"messages":[{"role":"user","content":"` + text + `"}]}`
	}
	for i, text := range []string{"one", "two", "three"} {
		chat(keyA, msg("deepseek-chat", text+strings.Repeat(" more", i), ""), 200)
	}
	for range 4 { // a miss, then three response-cache hits
		chat(keyA, msg("deepseek-chat", "the same question", ""), 200)
	}
	chat(keyB, msg("deepseek-chat", "stream one", `,"stream":true`), 200)
	chat(keyB, msg("deepseek-chat", "stream two", `,"stream":true`), 200)
	chat(keyB, msg("deepseek-reasoner", "think", ""), 200)
	chat(keyC, msg("deepseek-reasoner", "not allowed", ""), http.StatusForbidden) // refused before admission
	chat("", msg("deepseek-chat", "no key", ""), http.StatusUnauthorized)

	type report struct {
		TimeZone string             `json:"time_zone"`
		Data     []admin.ReportLine `json:"data"`
	}
	get := func(query string) report {
		t.Helper()
		resp, b := e.do(t, "GET", "/admin/usage/report?"+query, e.adminKey, "")
		var r report
		if err := json.Unmarshal(b, &r); err != nil || resp.StatusCode != 200 {
			t.Fatalf("report %s: %d %s", query, resp.StatusCode, b)
		}
		return r
	}
	testkit.Eventually(t, 10*time.Second, "usage to reach the store", func() bool {
		n := int64(0)
		for _, l := range get("group_by=principal").Data {
			n += l.Requests
		}
		return n == int64(metered)
	})
	queries := map[string]struct {
		groupBy []string
		zone    string
	}{
		"group_by=principal,model,hour&time_zone=UTC":           {[]string{"principal", "model", "hour"}, "UTC"},
		"group_by=principal,model,day&time_zone=UTC":            {[]string{"principal", "model", "day"}, "UTC"},
		"group_by=principal,model,hour&time_zone=Asia/Kolkata":  {[]string{"principal", "model", "hour"}, "Asia/Kolkata"},
		"group_by=principal,model,day&time_zone=Asia/Kolkata":   {[]string{"principal", "model", "day"}, "Asia/Kolkata"},
		"group_by=model,hour&time_zone=America/St_Johns":        {[]string{"model", "hour"}, "America/St_Johns"},
		"group_by=principal,hour&from=2000-01-01&to=2100-01-01": {[]string{"principal", "hour"}, "UTC"},
	}
	reports := map[string]report{}
	for q := range queries {
		reports[q] = get(q)
	}
	_, raw := e.do(t, "GET", "/admin/usage/report?group_by=principal,hour&format=csv", e.adminKey, "")
	csv := string(raw)
	if !strings.HasPrefix(csv, "principal,hour,currency,requests,") || !strings.Contains(csv, "key:"+idA+",") {
		t.Errorf("csv:\n%s", csv)
	}

	e.stop()
	<-e.done
	e.done <- nil
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.jsonl"))
	var fromAudit []store.UsageDelta
	hits := 0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var ev audit.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.CacheResult == "hit" {
				hits++
				if ev.Cost != 0 || ev.CostSaved <= 0 || ev.Currency != "USD" || ev.Metered != "key" {
					t.Errorf("a cache hit's audit record: %+v", ev)
				}
			}
			if d, ok := usage.FromAudit(&ev); ok {
				fromAudit = append(fromAudit, d)
			}
		}
		f.Close()
	}
	if hits != 3 || len(fromAudit) != metered {
		t.Fatalf("%d cache hits, %d metered audit records; want 3 and %d", hits, len(fromAudit), metered)
	}
	for q, want := range queries {
		loc, _ := time.LoadLocation(want.zone)
		audited := admin.BuildReport(admin.EntriesFromUsage(fromAudit), want.groupBy, loc, nil)
		got := reports[q]
		if got.TimeZone != want.zone || len(got.Data) != len(audited) {
			t.Errorf("%s: zone %s\nreport %+v\naudit  %+v", q, got.TimeZone, got.Data, audited)
			continue
		}
		var saved int64
		for i := range audited {
			if got.Data[i] != audited[i] {
				t.Errorf("%s line %d:\nreport %+v\naudit  %+v", q, i, got.Data[i], audited[i])
			}
			saved += got.Data[i].SavedNano
			if want.zone == "Asia/Kolkata" && got.Data[i].Hour != "" && !strings.Contains(got.Data[i].Hour, ":30+05:30") {
				t.Errorf("%s: hour %s is not a whole UTC hour in +05:30", q, got.Data[i].Hour)
			}
		}
		if saved <= 0 {
			t.Errorf("%s: no cache savings reported", q)
		}
	}

	reconcile := func(per string) (int, string) {
		var out, errOut bytes.Buffer
		args := append([]string{"usage", "reconcile", "--db", e.db, "--per", per, "--audit"}, files...)
		code := cli.Run(context.Background(), args, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	for _, per := range []string{"hour", "day"} {
		if code, out := reconcile(per); code != 0 || !strings.Contains(out, "the usage store equals the audit trail") {
			t.Errorf("reconcile per %s: exit %d\n%s", per, code, out)
		}
	}
	st, err := storeopen.Open(context.Background(), e.db)
	if err != nil {
		t.Fatal(err)
	}
	var tampered store.UsageDelta
	for _, d := range fromAudit {
		if d.PrincipalID == idA {
			tampered = d // one completion token more in its bucket
			tampered.Requests, tampered.PromptTokens, tampered.CacheHitTokens, tampered.CompletionTokens = 0, 0, 0, 1
			tampered.Cost, tampered.CostSaved = 0, 0
			break
		}
	}
	err = st.AddUsage(context.Background(), []store.UsageDelta{tampered})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, per := range []string{"hour", "day"} {
		code, out := reconcile(per)
		if code != 2 || !strings.Contains(out, "key:"+idA) || !strings.Contains(out, "completion_tokens") ||
			!strings.Contains(out, "1 bucket(s) differ") {
			t.Errorf("reconcile per %s after tampering: exit %d\n%s", per, code, out)
		}
		t.Logf("per %s after tampering:\n%s", per, out)
	}
}
