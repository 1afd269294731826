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

// dsgate usage reconcile: the journal step, then the check against the
// config's audit files: equal, then one bucket tampered with (exit 2 and
// the figure that differs), per day and per hour.
func TestUsageReconcile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "cp.db")
	cfgPath := filepath.Join(dir, "dsgate.yaml")
	cfg := "version: 1\nstore: {dsn: \"" + db + "\"}\naudit: {enabled: true, dir: \"" + filepath.Join(dir, "audit") + "\"}\n" +
		"upstreams: [{name: a, kind: openai, url: \"http://127.0.0.1:1\"}]\nmodels: [{name: m, targets: [{upstream: a}]}]\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "audit"), 0o750); err != nil {
		t.Fatal(err)
	}
	// Two rotated files and the live one; a refused request (not metered),
	// a cache hit (no tokens, its savings), and a client.
	files := map[string]string{
		"audit-00000000000000000001.jsonl": `{"id":"a","seq":1,"principal":"k1","model":"m","status":200,"prompt_tokens":10,"completion_tokens":2,"cache_hit_tokens":4,"request_at":"2026-12-02T01:10:00Z","cost_nano":5,"currency":"USD","metered":"key"}
`,
		"audit-00000000000000000002.jsonl": `{"id":"b","seq":2,"principal":"k1","model":"m","status":200,"cache_result":"hit","prompt_tokens":10,"completion_tokens":2,"request_at":"2026-12-02T01:50:00Z","cost_saved_nano":9,"currency":"USD","metered":"key"}
{"id":"c","seq":3,"principal":"k1","model":"m","status":429,"request_at":"2026-12-02T01:51:00Z"}
`,
		"audit.jsonl": `{"id":"d","seq":4,"principal":"c1","model":"m","status":200,"prompt_tokens":3,"request_at":"2026-12-02T23:59:59.5Z","cost_nano":1,"currency":"USD","metered":"client"}
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, "audit", name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	st, err := storeopen.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	at := func(h, m int) time.Time { return time.Date(2026, 12, 2, h, m, 0, 0, time.UTC) }
	err = st.AddUsage(ctx, []store.UsageDelta{
		{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: at(1, 10), Requests: 1, PromptTokens: 10, CompletionTokens: 2,
			CacheHitTokens: 4, Cost: 5, Currency: "USD"},
		{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: at(1, 50), Requests: 1, CostSaved: 9, Currency: "USD"},
		{Kind: store.KindClient, PrincipalID: "c1", Model: "m", Day: at(23, 59), Requests: 1, PromptTokens: 3, Cost: 1, Currency: "USD"},
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, per := range []string{"day", "hour"} {
		out, stderr, code := run(t, "usage", "reconcile", "-c", cfgPath, "--per", per, "--from", "2026-12-02", "--to", "2026-12-03")
		if code != 0 || !strings.Contains(out, "added 0 usage records") ||
			!strings.Contains(out, "3 metered audit records in 3 audit file(s)") || !strings.Contains(out, "equals the audit trail") {
			t.Errorf("per %s: exit %d\n%s%s", per, code, out, stderr)
		}
	}

	// One nano-unit more cost in one bucket.
	st, err = storeopen.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	err = st.AddUsage(ctx, []store.UsageDelta{{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: at(1, 0), Cost: 1, Currency: "USD"}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _, code := run(t, "usage", "reconcile", "-c", cfgPath, "--per", "hour", "--time-zone", "Asia/Shanghai")
	if code != reconcileExitDifferent || !strings.Contains(strings.Join(strings.Fields(out), " "), "key:k1 m 2026-12-02T09:00+08:00 USD cost_nano 5 6 +1") ||
		!strings.Contains(out, "1 bucket(s) differ") {
		t.Errorf("tampered: exit %d\n%s", code, out)
	}
	// The journal step alone, as reconcile was before it checked.
	if out, stderr, code := run(t, "usage", "reconcile", "-c", cfgPath, "--journal-only"); code != 0 || strings.Contains(out, "metered") {
		t.Errorf("--journal-only: exit %d\n%s%s", code, out, stderr)
	}
}
