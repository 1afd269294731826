package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/server"
	"github.com/dsgate/dsgate/internal/sim"
)

// reloadEnv is a running gateway whose config a test rewrites and reloads.
type reloadEnv struct {
	*env
	t *testing.T
}

// startReload runs a gateway with cfg (where $a is a simulator's URL).
func startReload(t *testing.T, cfg string) *reloadEnv {
	t.Helper()
	return &reloadEnv{env: start(t, cfg, map[string]sim.Options{"a": {}}), t: t}
}

// reload applies cfg ($a replaced as at start) and returns Reload's error.
func (e *reloadEnv) reload(cfg string) error {
	e.t.Helper()
	for name, url := range e.simURL {
		cfg = strings.ReplaceAll(cfg, "$"+name, url)
	}
	c, err := config.Parse(strings.NewReader(cfg))
	if err != nil {
		e.t.Fatalf("config: %v", err)
	}
	return e.srv.Reload(c)
}

// chat sends a chat request for model with key ("" for none) and returns
// the status.
func (e *env) chat(t *testing.T, key, model string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", e.base+"/v1/chat/completions",
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}],"max_tokens":4}`))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// authConfig is a config with authentication on or off, default limits
// rpm and the developer role allowed the given models.
func authConfig(dir string, enabled bool, rpm int, models string) string {
	return fmt.Sprintf(`
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
store: {dsn: %q}
auth:
  enabled: %t
  signing_key_encryption_key: "file:%s"
  limits: {rpm: %d}
  roles:
    - name: developer
      permissions: [{resource: text_generation, actions: [read]}]
      models: [%s]
upstreams:
  - {name: a, kind: openai, url: "$a"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
  - {name: deepseek-reasoner, targets: [{upstream: a}]}
`, filepath.Join(dir, "dsgate.db"), enabled, filepath.Join(dir, "kek"), rpm, models)
}

// A reload applies authentication on and off, default limits and a role's
// model allow-list.
func TestReloadAppliesAccess(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kek"), []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	key := createKey(t, filepath.Join(dir, "dsgate.db"), "--name", "dev", "--role", "developer")
	e := startReload(t, authConfig(dir, true, 0, "deepseek-chat"))

	if got := e.chat(t, key, "deepseek-reasoner"); got != http.StatusForbidden {
		t.Fatalf("model outside the allow-list: %d, want 403", got)
	}
	if err := e.reload(authConfig(dir, true, 0, "deepseek-chat, deepseek-reasoner")); err != nil {
		t.Fatal(err)
	}
	if got := e.chat(t, key, "deepseek-reasoner"); got != http.StatusOK {
		t.Fatalf("model added to the allow-list by reload: %d, want 200", got)
	}

	if err := e.reload(authConfig(dir, true, 2, "deepseek-chat")); err != nil {
		t.Fatal(err)
	}
	var codes []int
	for range 3 {
		codes = append(codes, e.chat(t, key, "deepseek-chat"))
	}
	if !slices.Equal(codes, []int{200, 200, 429}) {
		t.Fatalf("with auth.limits.rpm 2 reloaded: %v, want [200 200 429]", codes)
	}

	if err := e.reload(authConfig(dir, false, 0, "deepseek-chat")); err != nil {
		t.Fatal(err)
	}
	if got := e.chat(t, "", "deepseek-reasoner"); got != http.StatusOK {
		t.Fatalf("auth.enabled false reloaded, no key: %d, want 200", got)
	}
	if err := e.reload(authConfig(dir, true, 0, "deepseek-chat")); err != nil {
		t.Fatal(err)
	}
	if got := e.chat(t, "", "deepseek-chat"); got != http.StatusUnauthorized {
		t.Fatalf("auth.enabled true reloaded, no key: %d, want 401", got)
	}
	if got := e.chat(t, key, "deepseek-chat"); got != http.StatusOK {
		t.Fatalf("auth.enabled true reloaded, key: %d, want 200", got)
	}
}

// A reload that changes keys only a restart applies is refused whole,
// naming them; nothing of it is applied.
func TestReloadRefusesRestartKeys(t *testing.T) {
	cfg := func(level, models string) string {
		return `
version: 1
server: {listen: "127.0.0.1:0", max_body_bytes: 1000000}
log: {access: false, level: ` + level + `}
upstreams:
  - {name: a, kind: openai, url: "$a"}
models:
` + models
	}
	chat := "  - {name: deepseek-chat, targets: [{upstream: a}]}\n"
	extra := "  - {name: extra, targets: [{upstream: a, model: deepseek-chat}]}\n"
	e := startReload(t, cfg("info", chat))
	err := e.reload(strings.Replace(cfg("debug", chat+extra), "1000000", "2000000", 1))
	var rr *server.RestartRequiredError
	if !errors.As(err, &rr) {
		t.Fatalf("Reload = %v, want a RestartRequiredError", err)
	}
	if !slices.Equal(rr.Keys, []string{"server.max_body_bytes", "log.level"}) {
		t.Fatalf("refused keys %v", rr.Keys)
	}
	if !strings.Contains(err.Error(), "server.max_body_bytes, log.level") {
		t.Fatalf("message %q does not name the keys", err)
	}
	if got := e.chat(t, "", "extra"); got != http.StatusNotFound {
		t.Fatalf("a model of a refused reload is served: %d", got)
	}
	if err := e.reload(cfg("info", chat+extra)); err != nil {
		t.Fatalf("models alone: %v", err)
	}
	if got := e.chat(t, "", "extra"); got != http.StatusOK {
		t.Fatalf("a model added by reload: %d", got)
	}
}

// A reload applies server.gc_headroom_bytes: the GC percent follows at
// once (the floor is the process's, the runtime's one GC percent).
func TestReloadAppliesGCFloor(t *testing.T) {
	cfg := func(headroom int) string {
		return `
version: 1
server: {listen: "127.0.0.1:0", gc_headroom_bytes: ` + strconv.Itoa(headroom) + `}
log: {access: false}
upstreams:
  - {name: a, kind: openai, url: "$a"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
`
	}
	percent := func() int {
		s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
		metrics.Read(s)
		return int(s[0].Value.Uint64()) // GOGC=off reads as -1
	}
	if server.InDefaultGC(t) {
		return
	}
	e := startReload(t, cfg(-1))
	if got := e.chat(t, "", "deepseek-chat"); got != http.StatusOK { // Run has set its floor by its first answer
		t.Fatalf("chat: %d", got)
	}
	base := percent()
	if base != 100 {
		t.Fatalf("GC percent %d without GOGC set and without a floor, want 100", base)
	}
	if err := e.reload(cfg(1 << 30)); err != nil {
		t.Fatal(err)
	}
	if p := percent(); p <= base {
		t.Fatalf("GC percent %d after a reload to a 1 GiB floor, base %d", p, base)
	}
	if err := e.reload(cfg(-1)); err != nil {
		t.Fatal(err)
	}
	if p := percent(); p != base {
		t.Fatalf("GC percent %d after a reload to no floor, want the base %d", p, base)
	}
}

// upstreamStatus is one entry of GET /admin/upstreams.
type upstreamStatus struct {
	Name    string `json:"name"`
	Breaker string `json:"breaker"`
}

func (e *env) upstreams(t *testing.T) map[string]string {
	t.Helper()
	resp, err := http.Get(e.base + "/admin/upstreams")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct{ Data []upstreamStatus }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range list.Data {
		out[s.Name] = s.Breaker
	}
	return out
}

// The breaker of an upstream whose definition a reload does not change
// stays as it was; a changed upstream starts afresh.
func TestReloadKeepsUnchangedUpstreamState(t *testing.T) {
	dead := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, `{"error":{"message":"overloaded"}}`, http.StatusServiceUnavailable)
	}))
	defer dead.Close()
	cfg := func(bMaxConc int, models string) string {
		return fmt.Sprintf(`
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
upstreams:
  - {name: dead, kind: openai, url: %q, breaker: {failure_threshold: 2, recovery_timeout: 1h}}
  - {name: b, kind: openai, url: %q, max_concurrency: %d, breaker: {failure_threshold: 2, recovery_timeout: 1h}}
models:
  - {name: deepseek-chat, targets: [{upstream: dead}]}
  - {name: other, targets: [{upstream: b, model: deepseek-chat}]}
%s`, dead.URL, dead.URL, bMaxConc, models)
	}
	e := startReload(t, cfg(10, ""))
	for range 4 {
		e.chat(t, "", "deepseek-chat")
		e.chat(t, "", "other")
	}
	if st := e.upstreams(t); st["dead"] != "open" || st["b"] != "open" {
		t.Fatalf("breakers before reload: %v, want both open", st)
	}
	if err := e.reload(cfg(20, "  - {name: extra, targets: [{upstream: dead, model: deepseek-chat}]}\n")); err != nil {
		t.Fatal(err)
	}
	if st := e.upstreams(t); st["dead"] != "open" || st["b"] != "closed" {
		t.Fatalf("breakers after reload: %v, want dead still open and the changed b closed", st)
	}
}
