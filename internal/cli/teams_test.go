package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storeopen"
)

func TestTeamsAndUsageReport(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cp.db")
	if _, stderr, code := run(t, "teams", "put", "research", "--db", db, "--models", "deepseek-flash", "--rpm", "100"); code != 0 {
		t.Fatalf("put: %s", stderr)
	}
	if _, stderr, code := run(t, "teams", "add", "research", "key:k1", "client:c1", "--db", db); code != 0 {
		t.Fatalf("add: %s", stderr)
	}
	if _, _, code := run(t, "teams", "add", "nosuch", "key:k1", "--db", db); code == 0 {
		t.Error("added to a missing team")
	}
	out, _, _ := run(t, "teams", "list", "--db", db)
	if !strings.Contains(out, "research") || !strings.Contains(out, "key:k1,client:c1") && !strings.Contains(out, "client:c1,key:k1") {
		t.Errorf("list:\n%s", out)
	}

	ctx := context.Background()
	st, err := storeopen.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	err = st.AddUsage(ctx, []store.UsageDelta{
		{Kind: store.KindKey, PrincipalID: "k1", Model: "deepseek-flash", Day: day, Requests: 2, PromptTokens: 100, CacheHitTokens: 50,
			CompletionTokens: 10, Cost: 1_500_000, CostSaved: 250_000, Currency: "USD"},
		{Kind: store.KindClient, PrincipalID: "c1", Model: "deepseek-flash", Day: day, Requests: 1, PromptTokens: 100,
			CompletionTokens: 10, Cost: 1, Currency: "USD"},
		{Kind: store.KindKey, PrincipalID: "k9", Model: "deepseek-flash", Day: day, Requests: 1, PromptTokens: 5, Cost: 7, Currency: "USD"},
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, code := run(t, "usage", "report", "--db", db, "--group-by", "team,model,day", "--format", "csv")
	if code != 0 {
		t.Fatalf("report: %s", stderr)
	}
	want := "team,model,day,currency,requests,prompt_tokens,prompt_cache_hit_tokens,completion_tokens,cost,saved,cache_hit_ratio\n" +
		",deepseek-flash,2026-12-02,USD,1,5,0,0,0.000000007,0.000000,0.0000\n" +
		"research,deepseek-flash,2026-12-02,USD,3,200,50,20,0.001500001,0.000250,0.2500\n"
	if out != want {
		t.Errorf("report:\n%s\nwant:\n%s", out, want)
	}
	if out, _, code = run(t, "usage", "report", "--db", db, "--group-by", "team"); code != 0 || !strings.Contains(out, "research") {
		t.Errorf("table: %d\n%s", code, out)
	}
	// The store keeps hours: the usage above was added at 00:00 UTC.
	out, _, code = run(t, "usage", "report", "--db", db, "--group-by", "hour", "--format", "csv", "--time-zone", "Asia/Kolkata")
	if code != 0 || !strings.Contains(out, "\n2026-12-02T05:30+05:30,USD,4,205,50,20,0.001500008,") {
		t.Errorf("hourly report from the store: %d\n%s", code, out)
	}

	// Hourly, from an audit file.
	auditFile := filepath.Join(dir, "audit-1.jsonl")
	lines := `{"id":"a","seq":1,"request_id":"r1","principal":"k1","model":"deepseek-flash","status":200,"prompt_tokens":10,"completion_tokens":2,"cache_hit_tokens":4,"request_at":"2026-12-02T01:10:00Z","cost_nano":5,"currency":"USD","metered":"key"}
{"id":"b","seq":2,"request_id":"r2","principal":"k1","model":"deepseek-flash","status":200,"prompt_tokens":10,"completion_tokens":2,"request_at":"2026-12-02T01:50:00Z","cost_nano":6,"cost_saved_nano":1,"currency":"USD","metered":"key"}
{"id":"c","seq":3,"request_id":"r3","principal":"k1","route":"GET /admin/keys","status":200,"request_at":"2026-12-02T02:10:00Z"}
`
	if err := os.WriteFile(auditFile, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = run(t, "usage", "report", "--audit", auditFile, "--db", db, "--group-by", "team,hour", "--format", "csv",
		"--time-zone", "Asia/Shanghai")
	if code != 0 {
		t.Fatalf("audit report: %s", stderr)
	}
	if !strings.Contains(out, "research,2026-12-02T09:00+08:00,USD,2,20,4,4,0.000000011,0.000000001,0.2000") {
		t.Errorf("hourly report:\n%s", out)
	}
}
