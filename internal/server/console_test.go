package server_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/testkit"
)

// consoleExtra turns the console (over plain HTTP on loopback) and the
// audit trail on, after startAuth's auth block.
func consoleExtra(dir string) string {
	return `console: {enabled: true, insecure_cookie: true}
audit: {enabled: true, dir: "` + filepath.Join(dir, "audit") + `"}`
}

// consoleClient is a cookie-keeping client of the console that does not
// follow redirects.
type consoleClient struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string
}

func newConsoleClient(t *testing.T, base string) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, base: base, hc: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (c *consoleClient) do(method, path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		if c.csrf != "" && form.Get("csrf_token") == "" {
			form.Set("csrf_token", c.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfInput.FindStringSubmatch(string(b)); m != nil && c.csrf == "" && !strings.HasSuffix(path, "/login") {
		c.csrf = m[1]
	}
	return resp, string(b)
}

func (c *consoleClient) signIn(key string) {
	c.t.Helper()
	_, page := c.do("GET", "/console/login", nil)
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		c.t.Fatalf("no sign-in form: %s", page)
	}
	if resp, body := c.do("POST", "/console/login", url.Values{"csrf_token": {m[1]}, "api_key": {key}}); resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	c.do("GET", "/console/", nil)
}

// The console served by the gateway: sign in with the admin key, create a
// key, use it through the OpenAI SDK, see the request on the overview and
// in request search, export usage as CSV equal to /admin/usage, revoke the
// key (it stops working).
func TestConsoleOnTheGateway(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startAuthIn(t, dir, consoleExtra(dir))
	c := newConsoleClient(t, e.base)
	_, page := c.do("GET", "/console/login", nil)
	m := csrfInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no sign-in form: %s", page)
	}
	if resp, _ := c.do("POST", "/console/login", url.Values{"csrf_token": {m[1]}, "api_key": {"dsg_guess_wrong"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("sign-in with a wrong key: %d", resp.StatusCode)
	}
	c.signIn(e.adminKey)
	if c.csrf == "" {
		t.Fatal("no CSRF token after sign-in")
	}
	resp, page := c.do("POST", "/console/keys", url.Values{"name": {"console-made"}, "role": {"developer"}})
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create key: %d %s", resp.StatusCode, page)
	}
	secret := regexp.MustCompile(`id="new-key-secret" class="secret">(dsg_[^<]+)<`).FindStringSubmatch(page)
	if secret == nil {
		t.Fatalf("no secret shown: %s", page)
	}
	sdk := openai.NewClient(option.WithBaseURL(e.base+"/v1/"), option.WithAPIKey(secret[1]), option.WithMaxRetries(0))
	_, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: "deepseek-chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	var reqID string
	testkit.Eventually(t, 10*time.Second, "request on the overview and in search", func() bool {
		_, ov := c.do("GET", "/console/", nil)
		if !strings.Contains(ov, `class="n-requests">1<`) && !strings.Contains(ov, `class="n-requests">2<`) {
			return false
		}
		_, found := c.do("GET", "/console/requests?model=deepseek-chat", nil)
		m := regexp.MustCompile(`data-request="([^"]+)"`).FindStringSubmatch(found)
		if m == nil {
			return false
		}
		reqID = m[1]
		return true
	})
	if _, detail := c.do("GET", "/console/requests/"+reqID, nil); !strings.Contains(detail, "deepseek-chat") {
		t.Fatalf("request detail lacks the model: %s", detail)
	}
	if _, v := c.do("GET", "/console/requests?verify=1", nil); !strings.Contains(v, "class=\"ok verify\"") {
		t.Fatalf("chain not verified: %s", v)
	}
	compareUsageCSV(t, e, c)

	// Draining the only target leaves the model without an upstream (503);
	// re-enabling it brings it back.
	if resp, body := c.do("POST", "/console/upstreams/a/drain", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("drain: %d %s", resp.StatusCode, body)
	}
	chat := func() error {
		_, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model: "deepseek-chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		return err
	}
	var apiErr *openai.Error
	if err := chat(); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("chat to a drained upstream: %v", err)
	}
	if _, page := c.do("GET", "/console/upstreams", nil); !strings.Contains(page, `class="bad drained"`) {
		t.Fatal("upstreams page does not show the drain")
	}
	if resp, _ := c.do("POST", "/console/upstreams/a/enable", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", resp.StatusCode)
	}
	if err := chat(); err != nil {
		t.Fatalf("chat after re-enabling: %v", err)
	}

	keyID := regexp.MustCompile(`dsg_([^_]+)_`).FindStringSubmatch(secret[1])[1]
	if resp, body := c.do("POST", "/console/keys/"+keyID+"/revoke", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", resp.StatusCode, body)
	}
	testkit.Eventually(t, 5*time.Second, "revoked key refused", func() bool {
		_, err := sdk.Models.List(context.Background())
		return err != nil
	})
	// What is done in the console is in the audit trail with who did it,
	// as the admin API's actions are (console actions went unrecorded: an
	// insider could act there without a trace).
	route := "CONSOLE POST /console/keys/" + keyID + "/revoke"
	admin := regexp.MustCompile(`dsg_([^_]+)_`).FindStringSubmatch(e.adminKey)[1]
	testkit.Eventually(t, 5*time.Second, "the revocation's audit record", func() bool {
		for _, ev := range readAuditAll(t, filepath.Join(dir, "audit")) {
			if ev.Route == route && ev.Principal == admin && ev.Role == "admin" && ev.Status == http.StatusSeeOther {
				return true
			}
		}
		return false
	})
	// Sign-in attempts are in the trail too, the refused one with no
	// principal (guesses at the sign-in form went unrecorded).
	var refused, signedIn bool
	for _, ev := range readAuditAll(t, filepath.Join(dir, "audit")) {
		if ev.Route != "CONSOLE POST /console/login" {
			continue
		}
		refused = refused || ev.Status == http.StatusUnauthorized && ev.Principal == "" && ev.ClientAddr != ""
		signedIn = signedIn || ev.Status == http.StatusSeeOther && ev.Principal == admin && ev.Role == "admin"
	}
	if !refused || !signedIn {
		t.Fatalf("sign-in records: refused %v, signed in %v", refused, signedIn)
	}
}

// compareUsageCSV checks that the console's CSV has the rows of GET
// /admin/usage for the same day.
func compareUsageCSV(t *testing.T, e *authEnv, c *consoleClient) {
	t.Helper()
	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	var body []byte
	testkit.Eventually(t, 10*time.Second, "usage recorded", func() bool {
		_, body = e.do(t, "GET", "/admin/usage?from="+today+"&to="+tomorrow, e.adminKey, "")
		return strings.Contains(string(body), `"requests"`) && !strings.Contains(string(body), `"data":[]`)
	})
	resp, csvText := c.do("GET", "/console/usage.csv?from="+today+"&to="+today, nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", resp.StatusCode, csvText)
	}
	assertCSVMatches(t, csvText, body)
}

// assertCSVMatches fails unless the CSV's rows are the rows of the
// /admin/usage answer adminJSON.
func assertCSVMatches(t *testing.T, csvText string, adminJSON []byte) {
	t.Helper()
	var raw struct {
		Data []map[string]any
	}
	if err := json.Unmarshal(adminJSON, &raw); err != nil {
		t.Fatalf("/admin/usage: %v %s", err, adminJSON)
	}
	var fromAdmin []string
	for _, r := range raw.Data {
		fromAdmin = append(fromAdmin, strings.Join([]string{r["kind"].(string), r["id"].(string), r["model"].(string),
			r["day"].(string), num(r["requests"]), num(r["prompt_tokens"]), num(r["prompt_cache_hit_tokens"]),
			num(r["completion_tokens"])}, ","))
	}
	recs, err := csv.NewReader(strings.NewReader(csvText)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("csv: %v %q", err, csvText)
	}
	var fromCSV []string
	for _, r := range recs[1:] {
		fromCSV = append(fromCSV, strings.Join(r[:8], ","))
	}
	slices.Sort(fromAdmin)
	slices.Sort(fromCSV)
	if len(fromAdmin) == 0 || !slices.Equal(fromAdmin, fromCSV) {
		t.Fatalf("CSV rows differ from /admin/usage:\ncsv   %v\nadmin %v", fromCSV, fromAdmin)
	}
}

func num(v any) string {
	f, _ := v.(float64)
	return strconv.FormatInt(int64(f), 10)
}

// The Configuration page shows the running config without secrets, and
// a refused reload with its error.
func TestConsoleConfigAndReloads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startAuthIn(t, dir, consoleExtra(dir))
	c := newConsoleClient(t, e.base)
	c.signIn(e.adminKey)
	_, page := c.do("GET", "/console/config", nil)
	if !strings.Contains(page, "No reload since start.") || strings.Contains(page, strings.Repeat("ab", 32)) {
		t.Fatalf("config page before a reload:\n%s", page)
	}
	next, err := config.Parse(strings.NewReader(`
version: 1
server: {listen: "127.0.0.1:1"}
upstreams: [{name: a, kind: openai, url: "http://127.0.0.1:9"}]
models: [{name: deepseek-chat, targets: [{upstream: a}]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(next); err == nil {
		t.Fatal("a reload changing server.listen was applied")
	}
	_, page = c.do("GET", "/console/config", nil)
	if !strings.Contains(page, "Last refused reload") || !strings.Contains(page, "server.listen") {
		t.Fatalf("config page after a refused reload:\n%s", page)
	}
}

// With console.listen the console has a listener of its own: it serves the
// pages there and the API listener does not.
func TestConsoleOnItsOwnListener(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := startAuthIn(t, dir, `console: {enabled: true, insecure_cookie: true, listen: "127.0.0.1:0"}`)
	addr := e.srv.ConsoleAddr()
	if addr == "" {
		t.Fatal("no console listener")
	}
	c := newConsoleClient(t, "http://"+addr)
	c.signIn(e.adminKey)
	if resp, page := c.do("GET", "/console/", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("console on its listener: %d %s", resp.StatusCode, page)
	}
	resp, err := http.Get(e.base + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("console on the API listener: %d, want 404", resp.StatusCode)
	}
}

// The console's edits reach the gateway at once: a team created on the
// console with an allow-list, a key put in it there, is refused another
// model; a key's model allow-list set there applies to its next call; a
// runtime budget set there is validated against the configuration,
// stored as the admin API stores it, and shown with its state.
func TestConsoleEditsOnTheGateway(t *testing.T) {
	dir := t.TempDir()
	e := startAuthIn(t, dir, consoleExtra(dir))
	c := newConsoleClient(t, e.base)
	c.signIn(e.adminKey)
	_, body := e.do(t, "POST", "/admin/keys", e.adminKey, `{"name":"member","role":"developer"}`)
	var k struct{ ID, Key string }
	if err := json.Unmarshal(body, &k); err != nil || k.Key == "" {
		t.Fatalf("key: %s", body)
	}
	chat := func(model string) int {
		resp, _ := e.do(t, "POST", "/v1/chat/completions", k.Key, `{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`)
		return resp.StatusCode
	}
	if got := chat("deepseek-reasoner"); got != http.StatusOK {
		t.Fatalf("before: %d", got)
	}
	if resp, page := c.do("POST", "/console/teams", url.Values{"name": {"research"}, "models": {"deepseek-chat"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create team: %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := c.do("POST", "/console/keys/"+k.ID+"/team", url.Values{"team": {"research"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("join team: %d", resp.StatusCode)
	}
	if got := chat("deepseek-reasoner"); got != http.StatusForbidden {
		t.Fatalf("outside the team's allow-list: %d, want 403", got)
	}
	if got := chat("deepseek-chat"); got != http.StatusOK {
		t.Fatalf("inside the team's allow-list: %d", got)
	}
	if resp, _ := c.do("POST", "/console/keys/"+k.ID+"/team", url.Values{"team": {""}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("leave team: %d", resp.StatusCode)
	}
	if resp, _ := c.do("POST", "/console/keys/"+k.ID+"/limits", url.Values{"models": {"deepseek-reasoner"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("key allow-list: %d", resp.StatusCode)
	}
	if got := chat("deepseek-chat"); got != http.StatusForbidden {
		t.Fatalf("outside the key's new allow-list: %d, want 403", got)
	}

	if resp, page := c.do("POST", "/console/budgets", url.Values{"subject": {"team:research"}, "period": {"day"},
		"currency": {"USD"}, "amount": {"5.00"}, "soft": {"0.5"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set budget: %d\n%s", resp.StatusCode, page)
	}
	if resp, page := c.do("POST", "/console/budgets", url.Values{"subject": {"nobody"}, "period": {"day"},
		"currency": {"USD"}, "amount": {"5.00"}}); resp.StatusCode != http.StatusBadRequest || !strings.Contains(page, "subject") {
		t.Fatalf("bad subject accepted: %d", resp.StatusCode)
	}
	_, body = e.do(t, "GET", "/admin/budgets/overrides", e.adminKey, "")
	if !strings.Contains(string(body), `"subject":"team:research"`) || strings.Contains(string(body), "nobody") {
		t.Fatalf("overrides: %s", body)
	}
	_, page := c.do("GET", "/console/budgets", nil)
	if !strings.Contains(page, `data-budget="team:research/day/USD"`) {
		t.Fatalf("budgets page:\n%s", page)
	}
}
