package console

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storeopen"
	"github.com/dsgate/dsgate/internal/upstream"
	"github.com/dsgate/dsgate/internal/websession"
)

// fixture is a console over a real SQLite store, an admin key and an
// analyst key.
type fixture struct {
	t        *testing.T
	srv      *httptest.Server
	st       store.Store
	policy   *auth.Policy
	adminKey string
	analyst  admin.KeyView
	client   admin.ClientView
	ups      []upstream.Status
	audit    []string
	alerts   []Alert
	drains   []string
	cache    *fakeCache
	batches  *fakeBatches
	budgets  []admin.BudgetView
	// teamsChanged counts TeamsChanged calls.
	teamsChanged int
}

type fakeCache struct {
	stats  []cache.TierStats
	purged []string // models purged ("" = all)
}

func (c *fakeCache) Stats() []cache.TierStats { return c.stats }
func (c *fakeCache) Purge(_ context.Context, f cache.Filter) (map[string]int, error) {
	c.purged = append(c.purged, f.Model)
	return map[string]int{"memory": 3}, nil
}

type fakeBatches struct {
	active    []store.Batch
	cancelled []string
	all       map[string]store.Batch
	files     map[string]string // file id -> content
}

func (b *fakeBatches) Batch(_ context.Context, id string) (store.Batch, error) {
	if x, ok := b.all[id]; ok {
		return x, nil
	}
	return store.Batch{}, store.ErrNotFound
}

func (b *fakeBatches) OpenFile(_ context.Context, id string) (store.BatchFile, io.ReadCloser, error) {
	c, ok := b.files[id]
	if !ok {
		return store.BatchFile{}, nil, store.ErrNotFound
	}
	return store.BatchFile{ID: id, Bytes: int64(len(c))}, io.NopCloser(strings.NewReader(c)), nil
}

func (b *fakeBatches) ActiveBatches(context.Context) ([]store.Batch, error) { return b.active, nil }
func (b *fakeBatches) Cancel(_ context.Context, id, owner string) (store.Batch, error) {
	b.cancelled = append(b.cancelled, id+"/"+owner)
	return store.Batch{ID: id}, nil
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := storeopen.Open(ctx, filepath.Join(t.TempDir(), "console.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	policy, err := auth.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, st: st, policy: policy,
		cache: &fakeCache{stats: []cache.TierStats{{Tier: "memory", Entries: 2, Hits: 3, Misses: 1}}},
		batches: &fakeBatches{active: []store.Batch{{ID: "batch_1", Owner: "key:x", Status: "in_progress", Total: 10, Completed: 4}},
			all: map[string]store.Batch{"batch_done": {ID: "batch_done", Owner: "key:x", Status: "completed", Total: 2, Completed: 1, Failed: 1,
				OutputFileID: "file_out", ErrorFileID: "file_err"}},
			files: map[string]string{"file_out": `{"custom_id":"a"}` + "\n", "file_err": `{"custom_id":"b"}` + "\n"}}}
	now := time.Now()
	root, err := admin.CreateKey(ctx, st, admin.KeyRequest{Name: "root", Role: "admin"}, now, policy, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.adminKey = root.Key
	if f.analyst, err = admin.CreateKey(ctx, st, admin.KeyRequest{Name: "ana", Role: "analyst"}, now, policy, nil); err != nil {
		t.Fatal(err)
	}
	cheap := auth.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1}
	if f.client, err = admin.CreateClient(ctx, st, admin.ClientRequest{Name: "svc", Role: "developer"}, now, policy, nil, cheap); err != nil {
		t.Fatal(err)
	}
	ts := st.(store.TeamStore)
	if err := ts.PutTeam(ctx, store.Team{Name: "data-team", RPM: 7}); err != nil {
		t.Fatal(err)
	}
	if err := ts.SetTeamMember(ctx, store.KindKey, f.analyst.ID, "data-team"); err != nil {
		t.Fatal(err)
	}
	keys := auth.NewKeyAuthenticator(st, auth.KeyAuthenticatorOptions{})
	c, err := New(Options{
		Sessions: websession.New(websession.Options{Insecure: true}),
		Authenticate: func(r *http.Request, key string) (*auth.Principal, error) {
			return keys.AuthenticateKey(r.Context(), key)
		},
		Authorize:  func(p *auth.Principal, res, act string) error { return policy.Allow(p, res, act, "") },
		Store:      st,
		Grants:     func() admin.Grants { return policy },
		KeyRevoked: keys.Forget,
		Upstreams:  func() []upstream.Status { return f.ups },
		Targets:    func() []ModelTargets { return []ModelTargets{{Model: "m", Targets: []string{"a"}}} },
		AuditFiles: func() ([]string, error) { return f.audit, nil },
		Alerts:     func() []Alert { return f.alerts },
		Drain: func(name string, drained bool) error {
			if name != "a" {
				return errors.New("no upstream " + name)
			}
			f.drains = append(f.drains, name+"="+strconv.FormatBool(drained))
			return nil
		},
		Cache:        f.cache,
		Teams:        ts,
		Batches:      f.batches,
		SecretParams: cheap,
		TeamsChanged: func(context.Context) error { f.teamsChanged++; return nil },
		Budgets: func(_ context.Context, subjects []string) ([]admin.BudgetView, error) {
			var out []admin.BudgetView
			for _, b := range f.budgets {
				if subjects == nil || b.Subject == subjects[0] {
					out = append(out, b)
				}
			}
			return out, nil
		},
		BudgetOverrides: admin.OverrideOptions{Store: st.(store.CostOverrideStore)},
		Config: func() ConfigState {
			return ConfigState{YAML: "version: 1\n", Reloads: []Reload{{At: now, Error: "changing server.listen needs a restart"}}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(c)
	t.Cleanup(f.srv.Close)
	return f
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects (so tests see them).
type browser struct {
	t   *testing.T
	f   *fixture
	hc  *http.Client
	url *url.URL
}

func (f *fixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(f.srv.URL)
	return &browser{t: f.t, f: f, url: u, hc: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.f.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, string(raw)
}

func (b *browser) get(path string) (*http.Response, string) { return b.do(http.MethodGet, path, nil) }

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token is the CSRF token of the page's first form.
func token(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no csrf token in page:\n%s", page)
	}
	return m[1]
}

// signIn signs in with key and returns the CSRF token of the session.
func (b *browser) signIn(key string) string {
	b.t.Helper()
	_, page := b.get("/console/login")
	resp, body := b.do(http.MethodPost, "/console/login", url.Values{"csrf_token": {token(b.t, page)}, "api_key": {key}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign-in: %d\n%s", resp.StatusCode, body)
	}
	_, page = b.get("/console/usage")
	return token(b.t, page)
}

func (b *browser) sessionCookie() string {
	for _, c := range b.hc.Jar.Cookies(b.url) {
		if c.Name == "dsgate_session" {
			return c.Value
		}
	}
	return ""
}

func TestSignInShowsEveryPage(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	if resp, _ := b.get("/console/"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/console/login") {
		t.Fatalf("signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	b.signIn(f.adminKey)
	for _, p := range []string{"/console/", "/console/upstreams", "/console/keys", "/console/usage", "/console/requests", "/console/config", "/console/cache"} {
		resp, body := b.get(p)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d\n%s", p, resp.StatusCode, body)
		}
		if !strings.Contains(body, "</html>") {
			t.Errorf("%s: not a whole page", p)
		}
	}
}

func TestKeysPageShowsClientsAndTeams(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.signIn(f.adminKey)
	_, body := b.get("/console/keys")
	for _, want := range []string{`data-client="` + f.client.ID + `"`, `data-team="data-team"`, "key:" + f.analyst.ID, "7 / 0 / 0"} {
		if !strings.Contains(body, want) {
			t.Errorf("keys page lacks %q", want)
		}
	}
}

// The overview lists open breakers, unhealthy upstreams, exhausted
// balances and the alerts the server adds (certificates, budgets).
func TestOverviewAlerts(t *testing.T) {
	f := newFixture(t)
	f.ups = []upstream.Status{
		{Name: "cloud", Breaker: "open", LastError: "connection refused"},
		{Name: "local", Breaker: "closed", Healthy: false},
		{Name: "ds", Breaker: "closed", Healthy: true, Balance: &upstream.Balance{Available: false}},
		{Name: "fine", Breaker: "closed", Healthy: true},
	}
	f.alerts = []Alert{{Kind: "alert_budget", Subject: "key:abc/day/USD", Detail: "91% spent"}}
	b := f.browser()
	b.signIn(f.adminKey)
	_, body := b.get("/console/")
	for _, want := range []string{"Circuit breaker open</strong> cloud", "Upstream unhealthy</strong> local",
		"DeepSeek balance exhausted</strong> ds", "Budget near its limit</strong> key:abc/day/USD", "91% spent"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	if strings.Contains(body, "</strong> fine") {
		t.Error("a healthy upstream is an alert")
	}
}

// The upstreams page shows an open breaker's countdown and drain buttons.
func TestUpstreamsCountdownAndDrain(t *testing.T) {
	f := newFixture(t)
	f.ups = []upstream.Status{{Name: "a", Breaker: "open", BreakerRetryAt: time.Now().Add(42 * time.Second)},
		{Name: "b", Breaker: "closed", Healthy: true, Drained: true}}
	b := f.browser()
	b.signIn(f.adminKey)
	_, body := b.get("/console/upstreams")
	for _, want := range []string{`class="muted countdown">(trial in 4`, `action="/console/upstreams/a/drain"`,
		`action="/console/upstreams/b/enable"`, `class="bad drained"`} {
		if !strings.Contains(body, want) {
			t.Errorf("upstreams page lacks %q", want)
		}
	}
	_, page := b.get("/console/usage")
	if resp, _ := b.do(http.MethodPost, "/console/upstreams/zzz/drain", url.Values{"csrf_token": {token(t, page)}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("draining an unknown upstream: %d", resp.StatusCode)
	}
}

func TestSignInRefusesBadKeyAndMissingToken(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	_, page := b.get("/console/login")
	if resp, _ := b.do(http.MethodPost, "/console/login", url.Values{"csrf_token": {token(t, page)}, "api_key": {"dsg_nope_nope"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad key: %d", resp.StatusCode)
	}
	// Login CSRF: a form without the token of the sign-in page's cookie.
	other := f.browser()
	if resp, _ := other.do(http.MethodPost, "/console/login", url.Values{"csrf_token": {"forged"}, "api_key": {f.adminKey}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged login form: %d", resp.StatusCode)
	}
	if other.sessionCookie() != "" {
		t.Fatal("forged login form got a session")
	}
}

func TestLogout(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	csrf := b.signIn(f.adminKey)
	old := b.sessionCookie()
	if resp, _ := b.do(http.MethodPost, "/console/logout", url.Values{"csrf_token": {csrf}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	// Replaying the old cookie does not work either.
	b.hc.Jar.SetCookies(b.url, []*http.Cookie{{Name: "dsgate_session", Value: old, Path: "/"}})
	if resp, _ := b.get("/console/keys"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("after logout: %d", resp.StatusCode)
	}
}

// A session id planted before sign-in is not the one after it.
func TestSessionFixation(t *testing.T) {
	f := newFixture(t)
	attacker := f.browser()
	attacker.signIn(f.analyst.Key)
	planted := attacker.sessionCookie()
	victim := f.browser()
	victim.hc.Jar.SetCookies(victim.url, []*http.Cookie{{Name: "dsgate_session", Value: planted, Path: "/"}})
	victim.signIn(f.adminKey)
	if got := victim.sessionCookie(); got == planted || got == "" {
		t.Fatalf("session id after sign-in = %q, planted %q", got, planted)
	}
	// The attacker's id does not reach the victim's admin session.
	if resp, _ := attacker.get("/console/keys"); resp.StatusCode == http.StatusOK {
		t.Fatal("planted session id gives the victim's access")
	}
}

func TestRevokedKeyEndsItsSessions(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	b.signIn(f.analyst.Key)
	if err := f.st.RevokeKey(context.Background(), f.analyst.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if resp, _ := b.get("/console/usage"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoked key's session: %d", resp.StatusCode)
	}
}

func TestLanguage(t *testing.T) {
	f := newFixture(t)
	b := f.browser()
	if _, body := b.do(http.MethodGet, "/console/login", nil, "Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8"); !strings.Contains(body, "登录") || !strings.Contains(body, `lang="zh-CN"`) {
		t.Fatal("zh browser did not get Chinese")
	}
	if _, body := b.do(http.MethodGet, "/console/login?lang=en", nil, "Accept-Language", "zh-CN"); !strings.Contains(body, "Sign in") {
		t.Fatal("switch to English ignored")
	}
	// The switch is remembered.
	if _, body := b.do(http.MethodGet, "/console/login", nil, "Accept-Language", "zh-CN"); !strings.Contains(body, "Sign in") {
		t.Fatal("language switch not remembered")
	}
}

// teamOf is the team of a key or client in the store, "" for none.
func (f *fixture) teamOf(kind store.PrincipalKind, id string) string {
	lookup, err := admin.TeamLookup(context.Background(), f.st.(store.TeamStore))
	if err != nil {
		f.t.Fatal(err)
	}
	return lookup(kind, id)
}

// overrides are the stored runtime budgets.
func (f *fixture) overrides() []admin.BudgetEntry {
	cur, err := admin.LoadCostOverrides(context.Background(), f.st.(store.CostOverrideStore))
	if err != nil {
		f.t.Fatal(err)
	}
	return cur.Budgets
}

// seedBudget stores one runtime budget, key:seed/month/USD.
func (f *fixture) seedBudget() {
	err := admin.PutBudget(context.Background(), admin.OverrideOptions{Store: f.st.(store.CostOverrideStore)}, admin.CostOverrides{},
		admin.BudgetEntry{Subject: "key:seed", Period: "month", Currency: "USD", Amount: "5"}, "t", time.Now(), nil)
	if err != nil {
		f.t.Fatal(err)
	}
}
