package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
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
	ups      []upstream.Status
	audit    []string
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
	f := &fixture{t: t, st: st, policy: policy}
	now := time.Now()
	root, err := admin.CreateKey(ctx, st, admin.KeyRequest{Name: "root", Role: "admin"}, now, policy, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.adminKey = root.Key
	if f.analyst, err = admin.CreateKey(ctx, st, admin.KeyRequest{Name: "ana", Role: "analyst"}, now, policy, nil); err != nil {
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
	for _, p := range []string{"/console/", "/console/upstreams", "/console/keys", "/console/usage", "/console/requests", "/console/config"} {
		resp, body := b.get(p)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d\n%s", p, resp.StatusCode, body)
		}
		if !strings.Contains(body, "</html>") {
			t.Errorf("%s: not a whole page", p)
		}
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
