package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/sim"
)

// Issue 12: `dsgate config check` warns when a deepseek target names a
// retired model (it stays valid: the gateway maps it).
func TestConfigCheckWarnsOnRetiredDeepSeekModel(t *testing.T) {
	t.Setenv("DSGATE_TEST_KEY", "sk-x")
	f := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(f, []byte(`version: 1
upstreams:
  - {name: cloud, kind: deepseek, url: "https://api.deepseek.com", api_key: "${DSGATE_TEST_KEY}"}
  - {name: vllm, kind: openai, url: "http://vllm:8000"}
models:
  - name: deepseek-reasoner
    targets: [{upstream: cloud}]
  - name: chat
    targets: [{upstream: cloud, model: deepseek-v4-flash}, {upstream: vllm, model: deepseek-chat}]
  - name: pro
    targets: [{upstream: cloud, model: deepseek-v4-pro}, {upstream: cloud, model: deepseek-flash}]
  - name: typo
    targets: [{upstream: cloud, model: deepseek-v4flash}]
`), 0o600)
	out, stderr, code := run(t, "config", "check", f)
	if code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("check: %d %s %s", code, out, stderr)
	}
	if !strings.Contains(stderr, "models[0].targets[0].model: deepseek-reasoner is retired") ||
		!strings.Contains(stderr, "deepseek-v4-flash with thinking enabled") {
		t.Errorf("no warning for the retired name:\n%s", stderr)
	}
	if !strings.Contains(stderr, "models[3].targets[0].model: deepseek-v4flash is not a model DeepSeek's API lists") {
		t.Errorf("no warning for an unknown name:\n%s", stderr)
	}
	if strings.Count(stderr, "warning:") != 2 {
		t.Errorf("want exactly two warnings (current names and a vLLM model named deepseek-chat are fine):\n%s", stderr)
	}
}

// Issue 14: audit.full_policy block_new was renamed drop_new (it drops new
// records, it never blocks). The old name still loads, with a warning; the
// new one and drop_oldest load without; anything else is refused.
func TestConfigCheckAuditFullPolicyRename(t *testing.T) {
	for _, tc := range []struct {
		policy, warning string
		code            int
	}{
		{"block_new", "audit.full_policy: block_new is deprecated", 0},
		{"drop_new", "", 0},
		{"drop_oldest", "", 0},
		{"", "", 0},
		{"block_all", "must be drop_new or drop_oldest", 1},
	} {
		f := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(f, []byte(`version: 1
audit: {enabled: true, dir: "`+t.TempDir()+`", full_policy: "`+tc.policy+`"}
upstreams: [{name: s, kind: sim}]
models: [{name: m, targets: [{upstream: s}]}]
`), 0o600)
		out, stderr, code := run(t, "config", "check", f)
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d: %s %s", tc.policy, code, tc.code, out, stderr)
			continue
		}
		if tc.warning == "" && strings.Contains(stderr, "warning:") {
			t.Errorf("%q: unexpected warning:\n%s", tc.policy, stderr)
		}
		if tc.warning != "" && !strings.Contains(stderr, tc.warning) {
			t.Errorf("%q: stderr lacks %q:\n%s", tc.policy, tc.warning, stderr)
		}
	}
}

// Issue 13 item 9: a CLI command that loads the config opens the store its
// store.dsn reference names, not a file named after the reference.
func TestKeysUseReferencedStoreDSN(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	db := filepath.Join(dir, "sub", "cp.db")
	t.Setenv("DSGATE_TEST_DSN", db)
	f := filepath.Join(dir, "c.yaml")
	os.WriteFile(f, []byte(`version: 1
store: {dsn: "${DSGATE_TEST_DSN}"}
upstreams: [{name: s, kind: sim}]
models: [{name: m, targets: [{upstream: s}]}]
`), 0o600)
	if _, stderr, code := run(t, "keys", "create", "--config", f, "--name", "ci", "--role", "developer"); code != 0 {
		t.Fatalf("keys create: %d %s", code, stderr)
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("store not at the referenced path: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "$*")); len(m) > 0 {
		t.Errorf("a file named after the reference was created: %v", m)
	}
}

// Issue 13, safe by default: serve refuses a listener other machines can
// reach while auth is off, and says why.
func TestServeRefusesAnonymousPublicListener(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(f, []byte(`version: 1
server: {listen: "0.0.0.0:0"}
upstreams: [{name: s, kind: sim}]
models: [{name: m, targets: [{upstream: s}]}]
`), 0o600)
	_, stderr, code := run(t, "serve", "--config", f)
	if code == 0 || !strings.Contains(stderr, "server.listen") || !strings.Contains(stderr, "auth.allow_anonymous") {
		t.Fatalf("serve: code %d\n%s", code, stderr)
	}
}

// Issue 21: `config print` shows the defaults that apply at run time, not
// the zeros a file leaves out, and omits blocks that are off.
func TestConfigPrintShowsEffectiveDefaults(t *testing.T) {
	f := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(f, []byte(`version: 1
audit: {enabled: true, dir: `+filepath.Join(filepath.Dir(f), "audit")+`}
upstreams:
  - {name: ds, kind: deepseek, url: "http://127.0.0.1:1", api_key: "${DSGATE_TEST_UNSET_KEY}", optional: true}
  - {name: v, kind: openai, url: "http://127.0.0.1:2", health_check: {path: /health}, metrics_path: /metrics}
  - {name: s, kind: sim}
models: [{name: m, targets: [{upstream: v}, {upstream: s}]}]
`), 0o600)
	out, stderr, code := run(t, "config", "print", f)
	if code != 0 {
		t.Fatalf("config print: %d %s", code, stderr)
	}
	for _, want := range []string{
		"access: true",
		"failure_threshold: 5", "recovery_timeout: 30s", "max_recovery: 5m0s", "half_open_requests: 1",
		"window: 10s", "min_requests: 20",
		"interval: 10s", "timeout: 2s", "healthy_threshold: 2", "unhealthy_threshold: 3", "metrics_interval: 2s",
		"retry_on:\n      - connect\n      - timeout\n      - \"429\"",
		"balance_poll_interval: 5m0s",
		"policy: round_robin", "policy: weighted_round_robin", "policy: least_conn",
		"queue_size: 8192", "max_spool_bytes: 1073741824",
		"models:\n        - " + sim.DefaultModels()[0],
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config print lacks %q", want)
		}
	}
	for _, zero := range []string{"failure_threshold: 0", "access: null", "queue_size: 0", "balance_poll_interval: null",
		"api: null", "cert_file: \"\"", "ca_file: \"\"", "tokens_per_second: 0\n      models: []"} {
		if strings.Contains(out, zero) {
			t.Errorf("config print still shows %q", zero)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}
