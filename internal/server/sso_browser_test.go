package server_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
	"github.com/dsgate/dsgate/internal/testkit/idptest"
)

// A person signs in to the console and the admin API through the company
// IdP with a real browser (Debian's chromium, driven by chromedp): the
// console's sign-in page links to the IdP, the zitadel example OP's login
// form takes the password, dsgate's callback starts a session whose role
// comes from the IdP's groups claim. The session reads the admin API; a
// state-changing call without the session's CSRF token is refused and one
// with it succeeds; logout needs the token too and ends the session.
func TestSSOBrowserLogin(t *testing.T) {
	t.Parallel()
	chromium, err := exec.LookPath("chromium")
	testkit.Need(t, "chromium", "apt-get install chromium", err)

	// dsgate's address must be known before the IdP registers its
	// redirect URL.
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := hold.Addr().String()
	hold.Close()
	base := "http://" + addr
	op := idptest.Start(t, idptest.Options{
		WebClients: []idptest.WebClient{{ID: "dsgate-web", Secret: "web-secret", RedirectURIs: []string{base + "/auth/oidc/callback"}}},
		UserGroups: map[string][]string{"test-user@127.0.0.1": {"dsgate-admins"}},
	})
	dir := t.TempDir()
	secret := filepath.Join(dir, "oidc-secret")
	if err := os.WriteFile(secret, []byte("web-secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startAuthAt(t, dir, addr, `  issuer: `+base+`
  issuers:
    - name: corp
      issuer: `+op.Issuer+`
      audiences: [dsgate]
      rules:
        - {claim: groups, value: dsgate-admins, role: admin}
      sso: {client_id: dsgate-web, client_secret: "file:`+secret+`"}
console: {enabled: true, insecure_cookie: true}
audit: {enabled: true, dir: "`+filepath.Join(dir, "audit")+`"}`)

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium")))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	// The browser starts with the first action run on ctx itself (a
	// shorter-lived context would close it when done).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	// step runs one browser action and says where the browser was when it
	// failed.
	step := func(name string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, a); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("%s: %v (browser at %s: %.300s)", name, err, loc, body)
		}
	}
	step("open the console's sign-in page", chromedp.Navigate(e.base+"/console/login"))
	step("follow it", chromedp.Click(chromedp.CSS(`a[href^="/auth/oidc/login?issuer=corp"]`)))
	step("the IdP's login page", chromedp.WaitVisible(chromedp.ID("username")))
	step("type the username", chromedp.SendKeys(chromedp.ID("username"), "test-user@127.0.0.1"))
	step("type the password", chromedp.SendKeys(chromedp.ID("password"), "verysecure"))
	step("submit", chromedp.Submit(chromedp.ID("password")))
	step("back on the console, signed in", chromedp.WaitReady(chromedp.CSS("nav")))
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(e.base+"/auth/oidc/session")); err != nil {
		t.Fatal(err)
	}
	session, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(location, e.base+"/console/") {
		t.Fatalf("after sign-in the browser is at %s", location)
	}
	var s struct {
		Principal, Role, Via string
		CSRF                 string `json:"csrf_token"`
	}
	if err := json.Unmarshal([]byte(session), &s); err != nil || s.Principal != "corp:id1" || s.Role != "admin" || s.Via != "oidc:corp" || s.CSRF == "" {
		t.Fatalf("session = %s (%v)", session, err)
	}

	// fetch runs in the page, with its cookies, and returns the status.
	fetch := func(method, path, body string, headers map[string]string) int {
		t.Helper()
		if headers == nil {
			headers = map[string]string{}
		}
		h, _ := json.Marshal(headers)
		js := `fetch(` + quote(path) + `, {method: ` + quote(method) + `, headers: ` + string(h) + `, body: ` + body + `}).then(r => r.status)`
		status, err := chromedp.Run(ctx, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return status
	}
	keyBody := quote(`{"name":"from-sso","role":"developer"}`)
	if got := fetch("GET", "/admin/keys", "undefined", nil); got != 200 {
		t.Errorf("admin API with the session: %d", got)
	}
	if got := fetch("POST", "/admin/keys", keyBody, map[string]string{"Content-Type": "application/json"}); got != 403 {
		t.Errorf("POST without the CSRF token: %d, want 403", got)
	}
	if got := fetch("POST", "/admin/keys", keyBody, map[string]string{"Content-Type": "application/json", "X-CSRF-Token": "forged"}); got != 403 {
		t.Errorf("POST with a wrong CSRF token: %d, want 403", got)
	}
	if got := fetch("POST", "/admin/keys", keyBody, map[string]string{"Content-Type": "application/json", "X-CSRF-Token": s.CSRF}); got != 201 {
		t.Errorf("POST with the CSRF token: %d, want 201", got)
	}
	if got := fetch("POST", "/auth/oidc/logout", "undefined", nil); got != 403 {
		t.Errorf("logout without the CSRF token: %d, want 403", got)
	}
	if got := fetch("POST", "/auth/oidc/logout", "undefined", map[string]string{"X-CSRF-Token": s.CSRF}); got != 200 {
		t.Errorf("logout: %d", got)
	}
	if got := fetch("GET", "/auth/oidc/session", "undefined", nil); got != 401 {
		t.Errorf("session after logout: %d, want 401", got)
	}
	if got := fetch("GET", "/admin/keys", "undefined", nil); got != 401 {
		t.Errorf("admin API after logout: %d, want 401", got)
	}

	// Sign-ins are in the audit trail, a refused one (a callback without
	// the login state) with no principal.
	resp, err := http.Get(e.base + "/auth/oidc/callback?code=forged&state=forged")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("a forged callback: %d, want 403", resp.StatusCode)
	}
	testkit.Eventually(t, 5*time.Second, "the sign-ins' audit records", func() bool {
		var refused, signedIn bool
		for _, ev := range readAuditAll(t, filepath.Join(dir, "audit")) {
			if ev.Route == "SSO GET /auth/oidc/callback" {
				refused = refused || ev.Status == http.StatusForbidden && ev.Principal == ""
				signedIn = signedIn || ev.Status == http.StatusOK && ev.Principal == "corp:id1" && ev.Role == "admin"
			}
		}
		return refused && signedIn
	})
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// startAuthAt is startAuthIn listening on addr.
func startAuthAt(t *testing.T, dir, addr, extra string) *authEnv {
	t.Helper()
	db := filepath.Join(dir, "dsgate.db")
	kek := filepath.Join(dir, "kek")
	if err := os.WriteFile(kek, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `
version: 1
server: {listen: "` + addr + `"}
log: {access: false}
store: {dsn: "` + db + `"}
auth:
  enabled: true
  signing_key_encryption_key: "file:` + kek + `"
` + extra + `
upstreams:
  - {name: a, kind: openai, url: "$a"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
`
	adminKey := createKey(t, db, "--name", "root", "--role", "admin")
	return &authEnv{env: start(t, cfg, map[string]sim.Options{"a": {}}), db: db, adminKey: adminKey}
}
