package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/upstream"
)

// Every state-changing form refuses a request without the session's CSRF
// token, or with another session's, and changes nothing.
func TestCSRFOnEveryStateChangingForm(t *testing.T) {
	f := newFixture(t)
	f.seedBudget()
	victim := f.browser()
	good := victim.signIn(f.adminKey)
	// The token with its first character changed (replacing it with "x"
	// made the right token for one in 64 tokens, which begin with "x").
	wrong := []byte(good)
	wrong[0] ^= 1
	attacker := f.browser()
	foreign := attacker.signIn(f.adminKey) // a valid token, of another session
	forms := []struct {
		name   string
		path   string
		fields url.Values
		intact func() bool
	}{
		{"create key", "/console/keys", url.Values{"name": {"evil"}, "role": {"admin"}}, func() bool {
			ks, _ := f.st.ListKeys(context.Background())
			for _, k := range ks {
				if k.Name == "evil" {
					return false
				}
			}
			return true
		}},
		{"revoke key", "/console/keys/" + f.analyst.ID + "/revoke", url.Values{}, func() bool {
			k, _ := f.st.Key(context.Background(), f.analyst.ID)
			return k.RevokedAt.IsZero()
		}},
		{"revoke client", "/console/clients/" + f.client.ID + "/revoke", url.Values{}, func() bool {
			cl, _ := f.st.Client(context.Background(), f.client.ID)
			return cl.RevokedAt.IsZero()
		}},
		{"set key limits", "/console/keys/" + f.analyst.ID + "/limits", url.Values{"rpm": {"1"}}, func() bool {
			k, _ := f.st.Key(context.Background(), f.analyst.ID)
			return k.RPM == 0
		}},
		{"set key team", "/console/keys/" + f.analyst.ID + "/team", url.Values{"team": {""}}, func() bool {
			return f.teamOf(store.KindKey, f.analyst.ID) == "data-team"
		}},
		{"create client", "/console/clients", url.Values{"name": {"evil"}, "role": {"admin"}}, func() bool {
			cs, _ := f.st.ListClients(context.Background())
			return len(cs) == 1
		}},
		{"set client limits", "/console/clients/" + f.client.ID + "/limits", url.Values{"rpm": {"1"}}, func() bool {
			cl, _ := f.st.Client(context.Background(), f.client.ID)
			return cl.RPM == 0
		}},
		{"set client team", "/console/clients/" + f.client.ID + "/team", url.Values{"team": {"data-team"}}, func() bool {
			return f.teamOf(store.KindClient, f.client.ID) == ""
		}},
		{"create team", "/console/teams", url.Values{"name": {"evil"}}, func() bool {
			_, err := f.st.(store.TeamStore).Team(context.Background(), "evil")
			return err != nil
		}},
		{"edit team", "/console/teams/data-team", url.Values{"rpm": {"1"}}, func() bool {
			tm, _ := f.st.(store.TeamStore).Team(context.Background(), "data-team")
			return tm.RPM == 7
		}},
		{"set budget", "/console/budgets", url.Values{"subject": {"team:data-team"}, "period": {"day"}, "currency": {"USD"}, "amount": {"1"}}, func() bool {
			return len(f.overrides()) == 1 // the fixture's own
		}},
		{"delete budget", "/console/budgets/delete", url.Values{"subject": {"key:seed"}, "period": {"month"}, "currency": {"USD"}}, func() bool {
			return len(f.overrides()) == 1
		}},
		{"drain upstream", "/console/upstreams/a/drain", url.Values{}, func() bool { return len(f.drains) == 0 }},
		{"re-enable upstream", "/console/upstreams/a/enable", url.Values{}, func() bool { return len(f.drains) == 0 }},
		{"purge cache", "/console/cache/purge", url.Values{}, func() bool { return len(f.cache.purged) == 0 }},
		{"cancel batch", "/console/batches/batch_1/cancel", url.Values{}, func() bool { return len(f.batches.cancelled) == 0 }},
		{"sign out", "/console/logout", url.Values{}, func() bool {
			resp, _ := victim.get("/console/keys")
			return resp.StatusCode == http.StatusOK
		}},
	}
	for _, form := range forms {
		for _, tc := range []struct{ name, token string }{{"no token", ""}, {"wrong token", string(wrong)}, {"other session's token", foreign}} {
			t.Run(form.name+"/"+tc.name, func(t *testing.T) {
				v := url.Values{}
				for k, vs := range form.fields {
					v[k] = vs
				}
				if tc.token != "" {
					v.Set("csrf_token", tc.token)
				}
				resp, _ := victim.do(http.MethodPost, form.path, v)
				if resp.StatusCode != http.StatusForbidden {
					t.Fatalf("status %d, want 403", resp.StatusCode)
				}
				if !form.intact() {
					t.Fatal("the forged form changed state")
				}
			})
		}
	}
	// The same forms with the right token work (so the refusals above are
	// about the token, not a broken form).
	if resp, body := victim.do(http.MethodPost, "/console/keys", url.Values{"csrf_token": {good}, "name": {"fine"}, "role": {"developer"}}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("create with token: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := victim.do(http.MethodPost, "/console/keys/"+f.analyst.ID+"/revoke", url.Values{}, "X-CSRF-Token", good); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke with header token: %d", resp.StatusCode)
	}
	if resp, _ := victim.do(http.MethodPost, "/console/upstreams/a/drain", url.Values{"csrf_token": {good}}); resp.StatusCode != http.StatusSeeOther || f.drains[0] != "a=true" {
		t.Fatalf("drain with token: %d %v", resp.StatusCode, f.drains)
	}
	if resp, _ := victim.do(http.MethodPost, "/console/clients/"+f.client.ID+"/revoke", url.Values{"csrf_token": {good}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke client with token: %d", resp.StatusCode)
	}
	if resp, body := victim.do(http.MethodPost, "/console/cache/purge", url.Values{"csrf_token": {good}, "model": {"m"}}); resp.StatusCode != http.StatusOK || !strings.Contains(body, "memory 3") {
		t.Fatalf("purge with token: %d\n%s", resp.StatusCode, body)
	}
	if resp, _ := victim.do(http.MethodPost, "/console/batches/batch_1/cancel", url.Values{"csrf_token": {good}}); resp.StatusCode != http.StatusSeeOther || f.batches.cancelled[0] != "batch_1/" {
		t.Fatalf("cancel with token: %d %v", resp.StatusCode, f.batches.cancelled)
	}
	// A POST from another site is refused by its Origin even with a token.
	if resp, _ := victim.do(http.MethodPost, "/console/logout", url.Values{"csrf_token": {good}}, "Origin", "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin POST: %d", resp.StatusCode)
	}
}

// Every answer forbids framing and inline script; no page has inline
// script, inline style or event-handler attributes (which the CSP would
// block anyway).
func TestClickjackingAndCSPHeaders(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.signIn(f.adminKey)
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|<script>|\sstyle=|\son[a-z]+=|javascript:`)
	for _, p := range []string{"/console/login", "/console/", "/console/upstreams", "/console/keys", "/console/usage",
		"/console/requests", "/console/config", "/console/cache", "/console/nope", "/console/static/console.css",
		"/console/budgets", "/console/keys/" + f.analyst.ID, "/console/clients/" + f.client.ID, "/console/teams/data-team",
		"/console/cache?batch=batch_done"} {
		resp, body := b.get(p)
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(csp, "frame-ancestors 'none'") ||
			!strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
			h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", p, h)
		}
		if strings.HasSuffix(p, ".css") {
			continue
		}
		if m := inline.FindString(body); m != "" {
			t.Errorf("%s: inline script or style %q", p, m)
		}
	}
}

const xss = `"><script>alert(1)</script><img src=x onerror=alert(2)>`

// Client-supplied text (key names, model names, upstream errors, request
// ids and every audit field) is escaped wherever a page shows it.
func TestXSSThroughClientSuppliedText(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := admin.CreateKey(ctx, f.st, admin.KeyRequest{Name: xss, Role: "developer", Models: []string{"m" + xss}}, time.Now(), f.policy, nil); err != nil {
		t.Fatal(err)
	}
	f.cache.stats = []cache.TierStats{{Tier: "t" + xss}}
	if err := f.st.(store.TeamStore).PutTeam(ctx, store.Team{Name: "team" + xss, Models: []string{xss}}); err != nil {
		t.Fatal(err)
	}
	f.batches.active = []store.Batch{{ID: "b" + xss, Owner: xss, Model: xss, Status: xss}}
	f.batches.all["batch_x"] = store.Batch{ID: "batch_x", Owner: xss, Model: xss, Status: xss, OutputFileID: xss}
	evil, err := admin.CreateKey(ctx, f.st, admin.KeyRequest{Name: xss, Role: "developer", Models: []string{"m" + xss}}, time.Now(), f.policy, nil)
	if err != nil {
		t.Fatal(err)
	}
	evilClient, err := admin.CreateClient(ctx, f.st, admin.ClientRequest{Name: xss, Role: "developer", Models: []string{xss}}, time.Now(), f.policy, nil,
		auth.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.PutBudget(ctx, admin.OverrideOptions{Store: f.st.(store.CostOverrideStore)}, admin.CostOverrides{},
		admin.BudgetEntry{Subject: "key:" + evil.ID, Period: "day", Currency: xss, Amount: xss}, "t", time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	f.budgets = []admin.BudgetView{{Subject: "key:" + evil.ID, Period: xss, Currency: xss, Amount: xss, Spent: xss, Reset: xss}}
	f.ups = []upstream.Status{{Name: "u" + xss, Kind: "sim", Breaker: "open" + xss, LastError: xss}}
	ev := audit.Event{ID: "e1", Seq: 1, RequestID: "req" + xss, Principal: "p" + xss, Role: xss, ClientAddr: xss,
		Route: xss, Model: xss, Upstream: xss, Status: 200, CacheResult: xss, ErrorType: xss, Currency: xss,
		RequestAt: time.Now(), ResponseAt: time.Now()}
	line, _ := json.Marshal(ev)
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(path, append(line, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	f.audit = []string{path}
	if err := f.st.AddUsage(ctx, []store.UsageDelta{{Kind: store.KindKey, PrincipalID: "p" + xss, Model: xss,
		Day: time.Now().UTC().Truncate(24 * time.Hour), Requests: 1, Currency: "USD"}}); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	b.signIn(f.adminKey)
	pages := []string{"/console/cache", "/console/", "/console/upstreams", "/console/keys", "/console/usage",
		"/console/requests", "/console/requests?principal=" + url.QueryEscape("p"+xss),
		"/console/requests/" + url.PathEscape("req"+xss), "/console/login?next=" + url.QueryEscape("/console/"+xss),
		"/console/keys/" + evil.ID, "/console/clients/" + evilClient.ID, "/console/budgets", "/console/cache?batch=batch_x",
		"/console/teams/" + url.PathEscape("team"+xss)}
	seen := 0
	for _, p := range pages {
		_, body := b.get(p)
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("%s: unescaped payload in page", p)
		}
		if strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			seen++
		}
	}
	if seen < 10 { // the payload is shown, escaped, not dropped
		t.Errorf("payload shown escaped on %d pages, want at least 10", seen)
	}
}

// What a person sees follows their role: an analyst sees only their own
// usage, whatever the query asks, and no admin page or action.
func TestRolesDecideWhatIsShown(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	day := time.Now().UTC().Truncate(24 * time.Hour)
	if err := f.st.AddUsage(ctx, []store.UsageDelta{
		{Kind: store.KindKey, PrincipalID: f.analyst.ID, Model: "mine-model", Day: day, Requests: 3},
		{Kind: store.KindKey, PrincipalID: "someone-else", Model: "their-model", Day: day, Requests: 5},
	}); err != nil {
		t.Fatal(err)
	}
	b := f.browser()
	csrf := b.signIn(f.analyst.Key)
	if resp, _ := b.get("/console/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/usage" {
		t.Fatalf("analyst overview: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, p := range []string{"/console/upstreams", "/console/keys", "/console/requests", "/console/config", "/console/requests/x", "/console/cache"} {
		if resp, _ := b.get(p); resp.StatusCode != http.StatusForbidden {
			t.Errorf("analyst %s: %d, want 403", p, resp.StatusCode)
		}
	}
	if resp, _ := b.do(http.MethodPost, "/console/keys", url.Values{"csrf_token": {csrf}, "name": {"x"}, "role": {"analyst"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("analyst create key: %d", resp.StatusCode)
	}
	if resp, _ := b.do(http.MethodPost, "/console/keys/"+f.analyst.ID+"/revoke", url.Values{"csrf_token": {csrf}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("analyst revoke: %d", resp.StatusCode)
	}
	for _, p := range []string{"/console/keys/" + f.analyst.ID, "/console/clients/" + f.client.ID, "/console/teams/data-team",
		"/console/budgets", "/console/batches/batch_done/output", "/console/batches/batch_done/errors"} {
		if resp, _ := b.get(p); resp.StatusCode != http.StatusForbidden {
			t.Errorf("analyst %s: %d, want 403", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/console/cache/purge", "/console/batches/batch_1/cancel", "/console/upstreams/a/drain",
		"/console/keys/" + f.analyst.ID + "/limits", "/console/keys/" + f.analyst.ID + "/team", "/console/clients",
		"/console/clients/" + f.client.ID + "/limits", "/console/clients/" + f.client.ID + "/team", "/console/teams",
		"/console/teams/data-team", "/console/budgets", "/console/budgets/delete"} {
		if resp, _ := b.do(http.MethodPost, p, url.Values{"csrf_token": {csrf}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("analyst %s: %d", p, resp.StatusCode)
		}
	}
	if k, _ := f.st.Key(ctx, f.analyst.ID); k.RPM != 0 {
		t.Error("an analyst set a key's limits")
	}
	if len(f.cache.purged) != 0 || len(f.batches.cancelled) != 0 || len(f.drains) != 0 {
		t.Error("an analyst purged the cache or cancelled a batch")
	}
	for _, p := range []string{"/console/usage", "/console/usage?kind=key&id=someone-else", "/console/usage.csv?id=someone-else"} {
		_, body := b.get(p)
		if strings.Contains(body, "their-model") {
			t.Errorf("%s shows another principal's usage", p)
		}
		if !strings.Contains(body, "mine-model") {
			t.Errorf("%s does not show the analyst's own usage", p)
		}
	}
	_, body := b.get("/console/usage")
	for _, link := range []string{`href="/console/keys"`, `href="/console/upstreams"`, `href="/console/config"`} {
		if strings.Contains(body, link) {
			t.Errorf("analyst menu offers %s", link)
		}
	}
}

// The sign-in form sends people back only to console pages.
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/console/keys":           "/console/keys",
		"https://evil.example/":   "/console/",
		"//evil.example/console/": "/console/",
		"/console/\\evil":         "/console/",
		"/admin/keys":             "/console/",
		"":                        "/console/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
