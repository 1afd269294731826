package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGoodConfigs(t *testing.T) {
	t.Setenv("DSGATE_TEST_KEY", "sk-test")
	for _, v := range []string{"DSGATE_POSTGRES_DSN", "REDIS_PASSWORD", "ES_PASSWORD", "DEEPSEEK_API_KEY"} {
		t.Setenv(v, "x")
	}
	files, _ := filepath.Glob("testdata/*.good.yaml")
	files = append(files, "../../examples/quickstart.yaml")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The production example reads its key-encryption key from a file.
	b, _ := os.ReadFile("../../examples/production.yaml")
	kek := filepath.Join(t.TempDir(), "kek")
	os.WriteFile(kek, []byte(strings.Repeat("ab", 32)), 0o600)
	if _, err := Parse(strings.NewReader(strings.ReplaceAll(string(b), "/etc/dsgate/secrets/kek", kek))); err != nil {
		t.Errorf("production.yaml: %v", err)
	}
}

func TestFullConfig(t *testing.T) {
	t.Setenv("DSGATE_TEST_KEY", "sk-test")
	c, err := Load("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Upstreams[2].APIKey.Value(); got != "sk-test" {
		t.Errorf("api key = %q", got)
	}
	if c.Upstreams[0].FirstTokenTimeout == 0 || c.Upstreams[0].ReasoningField != "reasoning_content" {
		t.Errorf("defaults not filled: %+v", c.Upstreams[0])
	}
	tg := c.Models[0].Targets[1]
	if tg.Model != "deepseek-chat" || tg.Weight != 1 {
		t.Errorf("target defaults: %+v", tg)
	}
	if c.Server.ReadHeaderTimeout == 0 {
		t.Error("server defaults lost")
	}
}

func TestOptionalUpstreamWithoutKey(t *testing.T) {
	t.Setenv("DSGATE_TEST_KEY", "")
	c, err := Load("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Upstreams[2].Enabled() {
		t.Error("optional upstream with empty key should be disabled")
	}
}

func TestBadConfigs(t *testing.T) {
	tests := []struct {
		file string
		want []string // every fragment must appear in the error
	}{
		{"unknown-key.bad.yaml", []string{"line 4", "listne"}},
		{"literal-secret.bad.yaml", []string{"upstreams[0].api_key", "reference"}},
		{"issuers.bad.yaml", []string{
			"auth.issuers[0].issuer: is dsgate's own auth.issuer",
			`auth.issuers[1].name: must be unique lower-case`,
			`auth.issuers[1].issuer: must be a unique https URL (http only on loopback): "http://idp.example.com"`,
			"auth.issuers[1].audiences: at least one",
			`auth.issuers[1].algorithms: "HS256" is not allowed`,
			`auth.issuers[1].algorithms: "none" is not allowed`,
			"auth.issuers[1].rules[0]: needs claim, value and role",
			"auth.issuers[2].jwks_url: must be an https URL",
			"auth.issuers[2].max_key_age: must be at least refresh_interval",
			"auth.issuers[3].name: must be unique",
			"auth.issuers[3].issuer: must be a unique https URL",
		}},
		{"console.bad.yaml", []string{"console.enabled: the console needs auth.enabled",
			"console.insecure_cookie: allowed only on a loopback", "console: session timeouts"}},
		{"many.bad.yaml", []string{
			"version: must be 1",
			"server.listen",
			"server.gc_headroom_bytes: must be -1",
			"log.level",
			"upstreams[0].url",
			"upstreams[1].name: duplicate",
			"upstreams[1].kind",
			"upstreams[2].reasoning_field",
			"models[0].targets[0].upstream: unknown upstream \"zzz\"",
			"models[1].name: duplicate",
			"models[1].targets: at least one",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tt.file))
			if err == nil {
				t.Fatal("want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	os.WriteFile(key, []byte("sk-from-file\n"), 0o600)
	c, err := Parse(strings.NewReader(`version: 1
upstreams:
  - {name: d, kind: deepseek, url: "https://api.deepseek.com", api_key: "file:` + key + `"}
models:
  - {name: m, targets: [{upstream: d}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Upstreams[0].APIKey
	if s.Value() != "sk-from-file" {
		t.Fatalf("value = %q", s.Value())
	}
	for _, out := range []string{s.String(), strings.TrimSpace(string(must(s.MarshalJSON())))} {
		if strings.Contains(out, "sk-") {
			t.Errorf("secret leaked: %s", out)
		}
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestBootstrapAdminKey(t *testing.T) {
	const base = `version: 1
upstreams:
  - {name: d, kind: deepseek, url: "https://api.deepseek.com", api_key: "${DSG_TEST_UP}"}
models:
  - {name: m, targets: [{upstream: d}]}
auth:
  bootstrap_admin_key: "${DSG_TEST_ADMIN_KEY}"
`
	tests := []struct {
		value string
		ok    bool
	}{
		{"dsg_abcdefghij234567_" + strings.Repeat("x", 43), true},
		{"", false},
		{"sk-not-a-dsgate-key", false},
		{"dsg_UPPER_" + strings.Repeat("x", 43), false},
		{"dsg_abc_short", false},
	}
	t.Setenv("DSG_TEST_UP", "sk-test")
	for _, tt := range tests {
		t.Setenv("DSG_TEST_ADMIN_KEY", tt.value)
		c, err := Parse(strings.NewReader(base))
		if tt.ok != (err == nil) {
			t.Errorf("%q: err = %v, want ok=%v", tt.value, err, tt.ok)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), "auth.bootstrap_admin_key") || tt.value != "" && strings.Contains(err.Error(), tt.value) {
				t.Errorf("%q: error %v", tt.value, err)
			}
			continue
		}
		if c.Auth.BootstrapAdminKey.Value() != tt.value || c.Auth.BootstrapAdminKey.String() != "<secret>" {
			t.Errorf("value not resolved or not redacted")
		}
	}
}

func TestThinkingSwitchDefaultsPerKind(t *testing.T) {
	c, err := Parse(strings.NewReader(`version: 1
upstreams:
  - {name: s, kind: sim}
  - {name: d, kind: deepseek, url: "https://api.deepseek.com", api_key: "${DSGATE_TEST_KEY:-}", optional: true}
  - {name: v, kind: openai, url: "http://vllm:8000"}
  - {name: l, kind: openai, url: "http://llama:8080", thinking_switch: template_enable_thinking}
  - {name: lc, kind: llamacpp, url: "http://llama:8080"}
  - {name: vl, kind: vllm, url: "http://vllm:8000"}
  - {name: sg, kind: sglang, url: "http://sglang:30000"}
  - {name: ol, kind: ollama, url: "http://ollama:11434"}
models:
  - {name: m, reasoning_effort: max, targets: [{upstream: s}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"deepseek", "deepseek", "template_thinking", "template_enable_thinking",
		"template_enable_thinking", "template_thinking", "template_thinking", "ollama"} {
		if got := c.Upstreams[i].ThinkingSwitch; got != want {
			t.Errorf("%s: thinking_switch = %s, want %s", c.Upstreams[i].Name, got, want)
		}
	}
	_, err = Parse(strings.NewReader(`version: 1
upstreams: [{name: s, kind: sim, thinking_switch: think}]
models: [{name: m, reasoning_effort: none, targets: [{upstream: s}]}]
`))
	for _, w := range []string{"upstreams[0].thinking_switch", "models[0].reasoning_effort"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want %s in %v", w, err)
		}
	}
}

// A target's fim names a known FIM token family or none.
func TestTargetFIMFamily(t *testing.T) {
	base := "version: 1\nupstreams: [{name: v, kind: vllm, url: \"http://vllm:8000\"}]\nmodels: [{name: m, targets: [{upstream: v, fim: %s}]}]\n"
	for _, f := range []string{"deepseek-coder", "qwen-coder", "starcoder", "codellama", "none"} {
		if _, err := Parse(strings.NewReader(fmt.Sprintf(base, f))); err != nil {
			t.Errorf("fim %s: %v", f, err)
		}
	}
	if _, err := Parse(strings.NewReader(fmt.Sprintf(base, "mistral"))); err == nil || !strings.Contains(err.Error(), "models[0].targets[0].fim") {
		t.Errorf("fim mistral: %v", err)
	}
}
