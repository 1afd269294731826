package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/server"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

// browserEnv is a gateway with the console and the audit trail on, in
// front of a simulator the test can kill, and a headless Chromium.
type browserEnv struct {
	base     string
	adminKey string
	upstream *httptest.Server
	ctx      context.Context
	shots    string
}

func startBrowserEnv(t *testing.T) *browserEnv {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	testkit.Need(t, "chromium", "apt-get install chromium", err)
	dir := t.TempDir()
	up := httptest.NewServer(sim.New(sim.Options{}))
	t.Cleanup(up.Close)
	kek := filepath.Join(dir, "kek")
	if err := os.WriteFile(kek, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "dsgate.db")
	cfg, err := config.Parse(strings.NewReader(`
version: 1
server: {listen: "127.0.0.1:0", shutdown_grace: 1s}
log: {access: false}
store: {dsn: "` + db + `"}
auth: {enabled: true, signing_key_encryption_key: "file:` + kek + `"}
console: {enabled: true}
audit: {enabled: true, dir: "` + filepath.Join(dir, "audit") + `"}
upstreams:
  - name: sim-a
    kind: openai
    url: "` + up.URL + `"
    breaker: {failure_threshold: 2, recovery_timeout: 1m}
models:
  - {name: deepseek-chat, targets: [{upstream: sim-a}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	e := &browserEnv{adminKey: createKey(t, db, "--name", "root", "--role", "admin"), upstream: up}
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// localhost, not 127.0.0.1: browsers treat http://localhost as a secure
	// context, so the Secure __Host- cookie works without TLS.
	e.base = "http://localhost:" + strings.TrimPrefix(srv.Addr(), "127.0.0.1:")

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("lang", "en-US"))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(bcancel)
	tctx, tcancel := context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(tcancel)
	if err := chromedp.Do(tctx); err != nil { // starts the browser
		testkit.Need(t, "a working chromium", "chromium must start headless", err)
	}
	e.ctx = tctx
	e.shots = os.Getenv("DSGATE_SCREENSHOTS")
	if e.shots == "" {
		e.shots, _ = os.MkdirTemp("", "dsgate-console-screenshots-")
	}
	_ = os.MkdirAll(e.shots, 0o755)
	return e
}

func (e *browserEnv) do(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(e.ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// eval runs a JavaScript expression in the page and returns its string.
func (e *browserEnv) eval(t *testing.T, js string) string {
	t.Helper()
	v, err := chromedp.Run(e.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition in the page, reloading it with
// reload (no reload when false: the page's live refresh must bring it).
func (e *browserEnv) waitFor(t *testing.T, what, js string, reload bool) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, what, func() bool {
		if reload {
			e.do(t, chromedp.Reload())
		}
		return e.eval(t, "String(!!("+js+"))") == "true"
	})
}

// screenshot saves the page at desktop and phone widths.
func (e *browserEnv) screenshot(t *testing.T, name string) {
	t.Helper()
	for _, size := range []struct {
		tag  string
		w, h int64
		opts []chromedp.EmulateViewportOption
	}{
		{"desktop", 1280, 900, nil},
		{"phone", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile, chromedp.EmulatePortrait}},
	} {
		e.do(t, chromedp.EmulateViewport(size.w, size.h, size.opts...))
		png, err := chromedp.Run(e.ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.shots, fmt.Sprintf("%s-%s.png", name, size.tag)), png, 0o644); err != nil {
			t.Fatal(err)
		}
		if size.tag == "phone" {
			// Nothing overflows sideways at phone width but scrolling tables.
			if w := e.eval(t, "String(document.documentElement.scrollWidth)"); w != "390" {
				t.Errorf("%s: page is %s px wide at a 390 px screen", name, w)
			}
		}
	}
	e.do(t, chromedp.EmulateViewport(1280, 900))
}

// The console in a real browser: sign in, create a key and use it with
// the OpenAI SDK, watch the overview count it (live refresh, no reload)
// and request search find it, export usage CSV equal to /admin/usage,
// revoke the key, and see the breaker open when the upstream dies.
// Screenshots of every page at desktop and phone width go to
// $DSGATE_SCREENSHOTS (default: a new temp dir, logged).
func TestConsoleInBrowser(t *testing.T) {
	e := startBrowserEnv(t)
	t.Logf("screenshots in %s", e.shots)

	e.do(t, chromedp.Navigate(e.base+"/console/"))
	e.waitFor(t, "sign-in page", `document.querySelector("input[name=api_key]")`, false)
	e.screenshot(t, "login")
	e.do(t, chromedp.SendKeys(chromedp.CSS("input[name=api_key]"), e.adminKey),
		chromedp.Click(chromedp.CSS("form button[type=submit]")))
	e.waitFor(t, "overview after sign-in", `document.querySelector(".n-requests")`, false)
	if v := e.eval(t, `document.cookie`); strings.Contains(v, "dsgate_session") {
		t.Fatal("the session cookie is readable from JavaScript")
	}

	e.do(t, chromedp.Navigate(e.base+"/console/keys"))
	e.do(t, chromedp.Click(chromedp.CSS("details.create summary")),
		chromedp.SendKeys(chromedp.CSS("input[name=name]"), "browser-made"),
		chromedp.Click(chromedp.CSS("form.grid button[type=submit]")))
	e.waitFor(t, "new key shown", `document.getElementById("new-key-secret")`, false)
	secret := e.eval(t, `document.getElementById("new-key-secret").textContent.trim()`)
	e.screenshot(t, "keys")

	e.do(t, chromedp.Navigate(e.base+"/console/"))
	e.waitFor(t, "overview", `document.querySelector(".n-requests")`, false)
	sdk := openai.NewClient(option.WithBaseURL(e.base+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	if _, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "deepseek-chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello from the browser test")}}); err != nil {
		t.Fatal(err)
	}
	e.waitFor(t, "the overview's live refresh counts the request",
		`Number(document.querySelector("section[data-window=last_hour] .n-requests").textContent) >= 1`, false)
	e.screenshot(t, "overview")

	e.do(t, chromedp.Navigate(e.base+"/console/requests?model=deepseek-chat"))
	e.waitFor(t, "request in search", `document.querySelector("tr[data-request]")`, true)
	e.screenshot(t, "requests")
	e.do(t, chromedp.Click(chromedp.CSS("tr[data-request] a")))
	e.waitFor(t, "request detail", `document.querySelector("dl.detail")`, false)
	e.screenshot(t, "request")

	e.do(t, chromedp.Navigate(e.base+"/console/usage"))
	e.waitFor(t, "usage recorded", `Number(document.querySelector(".total-requests").textContent) >= 1`, true)
	e.screenshot(t, "usage")
	today := time.Now().UTC().Format(time.DateOnly)
	csvText := e.eval(t, `fetch("/console/usage.csv?from=`+today+`&to=`+today+`").then(r => r.text())`)
	checkCSVAgainstAdmin(t, e, csvText, today)

	e.do(t, chromedp.Navigate(e.base+"/console/keys"))
	keyID := strings.SplitN(strings.TrimPrefix(secret, "dsg_"), "_", 2)[0]
	e.do(t, chromedp.Click(chromedp.CSS(`tr[data-key="`+keyID+`"] button.danger`)))
	e.waitFor(t, "key revoked", `document.querySelector('tr[data-key="`+keyID+`"] .bad')`, false)
	testkit.Eventually(t, 10*time.Second, "revoked key refused", func() bool {
		_, err := sdk.Models.List(context.Background())
		return err != nil
	})

	setRPMInBrowser(t, e)

	e.do(t, chromedp.Navigate(e.base+"/console/config"))
	e.waitFor(t, "config page", `document.querySelector("pre.config")`, false)
	if cfg := e.eval(t, `document.querySelector("pre.config").textContent`); strings.Contains(cfg, strings.Repeat("ab", 32)) {
		t.Fatal("the config page shows a secret")
	}
	e.screenshot(t, "config")

	e.upstream.CloseClientConnections()
	e.upstream.Close()
	e.do(t, chromedp.Navigate(e.base+"/console/upstreams"))
	root := openai.NewClient(option.WithBaseURL(e.base+"/v1/"), option.WithAPIKey(e.adminKey), option.WithMaxRetries(0))
	testkit.Eventually(t, 30*time.Second, "breaker open after the upstream died", func() bool {
		_, _ = root.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "deepseek-chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("anyone there?")}})
		e.do(t, chromedp.Reload())
		return e.eval(t, `String(!!document.querySelector('tr[data-upstream="sim-a"] .breaker-open'))`) == "true"
	})
	if v := e.eval(t, `document.querySelector('tr[data-upstream="sim-a"] .countdown')?.textContent || ""`); !strings.Contains(v, "trial in") {
		t.Errorf("no breaker countdown: %q", v)
	}
	e.screenshot(t, "upstreams")
	e.do(t, chromedp.Navigate(e.base+"/console/"))
	e.waitFor(t, "breaker alert on the overview", `document.querySelector(".alerts .alert")`, false)
	e.screenshot(t, "overview-alert")

	e.do(t, chromedp.Navigate(e.base+"/console/?lang=zh"))
	e.waitFor(t, "Chinese", `document.documentElement.lang === "zh-CN" && document.body.textContent.includes("概览")`, false)
	e.screenshot(t, "overview-zh")
}

// checkCSVAgainstAdmin compares the console's CSV with GET /admin/usage.
func checkCSVAgainstAdmin(t *testing.T, e *browserEnv, csvText, today string) {
	t.Helper()
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	req, _ := http.NewRequest("GET", e.base+"/admin/usage?from="+today+"&to="+tomorrow, nil)
	req.Header.Set("Authorization", "Bearer "+e.adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assertCSVMatches(t, csvText, body)
}

// setRPMInBrowser creates a key in the console, sets its RPM to 1 on its
// edit page, and checks through the OpenAI SDK that the second call in
// the minute is refused with 429; screenshots the edit and budgets pages.
func setRPMInBrowser(t *testing.T, e *browserEnv) {
	t.Helper()
	e.do(t, chromedp.Navigate(e.base+"/console/keys"))
	e.do(t, chromedp.Click(chromedp.CSS("details.create summary")),
		chromedp.SendKeys(chromedp.CSS("input[name=name]"), "rpm-edited"),
		chromedp.Click(chromedp.CSS("form.grid button[type=submit]")))
	e.waitFor(t, "second key shown", `document.getElementById("new-key-secret")`, false)
	secret := e.eval(t, `document.getElementById("new-key-secret").textContent.trim()`)
	keyID := strings.SplitN(strings.TrimPrefix(secret, "dsg_"), "_", 2)[0]
	e.do(t, chromedp.Click(chromedp.CSS(`tr[data-key="`+keyID+`"] a.edit-link`)))
	e.waitFor(t, "key edit page", `document.querySelector("form.limits-form input[name=rpm]")`, false)
	e.do(t, chromedp.SendKeys(chromedp.CSS("form.limits-form input[name=rpm]"), "1"),
		chromedp.Click(chromedp.CSS("form.limits-form button[type=submit]")))
	e.waitFor(t, "limits saved", `document.querySelector("p.ok[role=status]") && document.querySelector("form.limits-form input[name=rpm]").value === "1"`, false)
	e.screenshot(t, "key-edit")
	sdk := openai.NewClient(option.WithBaseURL(e.base+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	call := func() error {
		_, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "deepseek-chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("limited")}})
		return err
	}
	if err := call(); err != nil {
		t.Fatalf("first call under RPM 1: %v", err)
	}
	err := call()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second call under RPM 1: %v, want 429", err)
	}
	e.do(t, chromedp.Navigate(e.base+"/console/budgets"))
	e.waitFor(t, "budgets page", `document.querySelector("h1")`, false)
	e.screenshot(t, "budgets")
}
