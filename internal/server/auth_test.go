package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/dsgate/dsgate/internal/cli"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

// authEnv is a gateway with authentication on, a SQLite store in a temp
// dir, and an admin key made with the real CLI.
type authEnv struct {
	*env
	db       string
	adminKey string
}

func startAuth(t *testing.T, extra string) *authEnv {
	t.Helper()
	return startAuthIn(t, t.TempDir(), extra)
}

// startAuthIn is startAuth with its store and key files in dir: a second
// call on the same dir is a second replica sharing the store.
func startAuthIn(t *testing.T, dir, extra string) *authEnv {
	t.Helper()
	return startAuthWith(t, dir, "", extra, sim.Options{})
}

// startAuthWith is startAuthIn with more members of the server section
// (server, e.g. "max_body_bytes: 65536") and the simulator's options.
func startAuthWith(t *testing.T, dir, server, extra string, a sim.Options) *authEnv {
	t.Helper()
	return startAuthConfig(t, dir, server, extra+`
upstreams:
  - {name: a, kind: openai, url: "$a"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
  - {name: deepseek-reasoner, targets: [{upstream: a}]}
`, map[string]sim.Options{"a": a})
}

// startAuthConfig is startAuthWith with the configuration after the auth
// block (tail: upstreams, models and the rest) and the simulators given.
func startAuthConfig(t *testing.T, dir, server, tail string, sims map[string]sim.Options) *authEnv {
	t.Helper()
	db := filepath.Join(dir, "dsgate.db")
	kek := filepath.Join(dir, "kek")
	if err := os.WriteFile(kek, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	if server != "" {
		server = ", " + server
	}
	cfg := `
version: 1
server: {listen: "127.0.0.1:0"` + server + `}
log: {access: false}
store: {dsn: "` + db + `"}
auth:
  enabled: true
  signing_key_encryption_key: "file:` + kek + `"
` + tail
	adminKey := createKey(t, db, "--name", "root", "--role", "admin")
	return &authEnv{env: start(t, cfg, sims), db: db, adminKey: adminKey}
}

// keyVia creates a key from spec through the admin API and returns its id
// and secret.
func keyVia(t *testing.T, e *authEnv, spec string) (id, key string) {
	t.Helper()
	resp, b := e.do(t, "POST", "/admin/keys", e.adminKey, spec)
	var k struct{ ID, Key string }
	if resp.StatusCode != 201 || json.Unmarshal(b, &k) != nil || k.Key == "" {
		t.Fatalf("create key: %d %s", resp.StatusCode, b)
	}
	return k.ID, k.Key
}

// createKey runs `dsgate keys create` and returns the printed key.
func createKey(t *testing.T, db string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := cli.Run(context.Background(), append([]string{"keys", "create", "--db", db}, args...), &out, &errOut); code != 0 {
		t.Fatalf("keys create: %d %s", code, errOut.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if k, ok := strings.CutPrefix(line, "key:"); ok {
			return strings.TrimSpace(k)
		}
	}
	t.Fatalf("no key in output: %s", out.String())
	return ""
}

func (e *authEnv) do(t *testing.T, method, path, key, body string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// adminCreateKey makes a key through the admin API.
func (e *authEnv) adminCreateKey(t *testing.T, spec string) string {
	t.Helper()
	resp, body := e.do(t, "POST", "/admin/keys", e.adminKey, spec)
	if resp.StatusCode != 201 && resp.StatusCode != 200 {
		t.Fatalf("admin create key: %d %s", resp.StatusCode, body)
	}
	var v struct {
		Key string `json:"key"`
	}
	json.Unmarshal(body, &v)
	return v.Key
}

func TestAuthMatrix(t *testing.T) {
	t.Parallel()
	e := startAuth(t, "")
	analyst := e.adminCreateKey(t, `{"name":"ana","role":"analyst"}`)
	dev := e.adminCreateKey(t, `{"name":"dev","role":"developer","models":["deepseek-chat"]}`)
	chat := `{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}]}`
	reasoner := `{"model":"deepseek-reasoner","messages":[{"role":"user","content":"hi"}]}`
	embed := `{"model":"deepseek-chat","input":"hi"}`
	tests := []struct {
		name, method, path, key, body string
		status                        int
	}{
		{"no key", "POST", "/v1/chat/completions", "", chat, 401},
		{"bad key", "POST", "/v1/chat/completions", "dsg_nothere_xxxxxxxxxxxxxxxxxxxxxxxx", chat, 401},
		{"garbage", "POST", "/v1/chat/completions", "hello", chat, 401},
		{"analyst chat", "POST", "/v1/chat/completions", analyst, chat, 200},
		{"analyst embeddings", "POST", "/v1/embeddings", analyst, embed, 403},
		{"analyst models", "GET", "/v1/models", analyst, "", 403},
		{"analyst admin", "GET", "/admin/keys", analyst, "", 403},
		{"analyst upstreams", "GET", "/admin/upstreams", analyst, "", 403},
		{"developer allowed model", "POST", "/v1/chat/completions", dev, chat, 200},
		{"developer other model", "POST", "/v1/chat/completions", dev, reasoner, 403},
		{"developer embeddings", "POST", "/v1/embeddings", dev, embed, 200},
		{"developer models", "GET", "/v1/models", dev, "", 200},
		{"developer admin", "GET", "/admin/keys", dev, "", 403},
		{"admin upstreams", "GET", "/admin/upstreams", e.adminKey, "", 200},
		{"health needs no key", "GET", "/healthz", "", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := e.do(t, tt.method, tt.path, tt.key, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tt.status >= 400 && !bytes.Contains(body, []byte(`"error":{`)) {
				t.Errorf("error not in OpenAI shape: %s", body)
			}
		})
	}
}

func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	e := startAuth(t, "")
	key := e.adminCreateKey(t, `{"name":"small","role":"developer","rpm":3}`)
	chat := `{"model":"deepseek-chat","messages":[{"role":"user","content":"hi"}]}`
	for i := 0; i < 3; i++ {
		resp, body := e.do(t, "POST", "/v1/chat/completions", key, chat)
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
		if resp.Header.Get("X-Ratelimit-Limit-Requests") != "3" {
			t.Errorf("x-ratelimit-limit-requests = %q", resp.Header.Get("X-Ratelimit-Limit-Requests"))
		}
	}
	resp, body := e.do(t, "POST", "/v1/chat/completions", key, chat)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !bytes.Contains(body, []byte("rate_limit_exceeded")) {
		t.Fatalf("4th request: %d retry-after %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	// Another key is not affected.
	if resp, _ := e.do(t, "POST", "/v1/chat/completions", e.adminKey, chat); resp.StatusCode != 200 {
		t.Errorf("limit leaked to another key: %d", resp.StatusCode)
	}
}

func TestOAuthClientCredentialsAndSDK(t *testing.T) {
	t.Parallel()
	e := startAuth(t, "")
	resp, body := e.do(t, "POST", "/admin/clients", e.adminKey, `{"name":"backend","role":"developer"}`)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("create client: %d %s", resp.StatusCode, body)
	}
	var cl struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	json.Unmarshal(body, &cl)
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest("POST", e.base+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(cl.ID, cl.Secret)
	tr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	json.NewDecoder(tr.Body).Decode(&tok)
	tr.Body.Close()
	if tr.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("token endpoint: %d", tr.StatusCode)
	}
	c := openai.NewClient(option.WithBaseURL(e.base+"/v1/"), option.WithAPIKey(tok.AccessToken), option.WithMaxRetries(0))
	out, err := c.Chat.Completions.New(context.Background(), newChatParams("deepseek-chat", "hi"))
	if err != nil || out.Choices[0].Message.Content == "" {
		t.Fatalf("SDK with JWT: %v", err)
	}
	bad := openai.NewClient(option.WithBaseURL(e.base+"/v1/"), option.WithAPIKey(tok.AccessToken+"x"), option.WithMaxRetries(0))
	_, err = bad.Chat.Completions.New(context.Background(), newChatParams("deepseek-chat", "hi"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("tampered token: %v", err)
	}
}

func TestUsageRecordedPerKey(t *testing.T) {
	t.Parallel()
	e := startAuth(t, "")
	key := e.adminCreateKey(t, `{"name":"u","role":"developer"}`)
	for i := 0; i < 5; i++ {
		e.do(t, "POST", "/v1/chat/completions", key, `{"model":"deepseek-chat","max_tokens":7,"messages":[{"role":"user","content":"hi"}]}`)
	}
	id := strings.Split(key, "_")[1]
	testkit.Eventually(t, 5e9, "usage to be flushed", func() bool {
		_, body := e.do(t, "GET", "/admin/usage?principal="+id, e.adminKey, "")
		return bytes.Contains(body, []byte(`"completion_tokens":35`))
	})
}
