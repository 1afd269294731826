package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/testkit"
	"github.com/dsgate/dsgate/internal/testkit/idptest"
	"github.com/golang-jwt/jwt/v5"
)

// A service with a token from the company IdP (the zitadel example OP,
// client credentials) calls dsgate with no dsgate credential at all: it is
// authorized by its mapped role and model allow-list, limited and charged
// as its mapped team (the team's budget runs out), audited as
// "<issuer>:<subject>", and an IdP group grants admin on the admin API.
func TestExternalIssuerEndToEnd(t *testing.T) {
	t.Parallel()
	op := idptest.Start(t, idptest.Options{Services: []idptest.Service{
		{ID: "svc-reporting", Secret: "s1", Audience: "dsgate", Groups: []string{"ml"}},
		{ID: "svc-ops", Secret: "s2", Audience: "dsgate", Groups: []string{"dsgate-admins"}},
		{ID: "svc-nobody", Secret: "s3", Audience: "dsgate"},
	}})
	dir := t.TempDir()
	e := startAuth(t, `  issuers:
    - name: corp
      issuer: `+op.Issuer+`
      audiences: [dsgate]
      algorithms: [RS256]
      rules:
        - {claim: groups, value: dsgate-admins, role: admin}
        - {claim: groups, value: ml, role: developer, team: ml, models: [deepseek-chat]}
audit: {enabled: true, dir: "`+dir+`"}
pricing:
  models:
    - {model: "*", upstream: a, internal: true, currency: USD, cache_hit: "0.1", cache_miss: "1", output: "2"}
budgets:
  rules:
    - {subject: team:ml, period: day, amount: "0.0002", currency: USD}`)
	reporting := op.ServiceToken(t, "svc-reporting", "s1")
	chat := func(token, model string) (int, string) {
		resp, body := e.do(t, "POST", "/v1/chat/completions", token,
			`{"model":"`+model+`","max_tokens":30,"messages":[{"role":"user","content":"count to ten"}]}`)
		var er struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.Unmarshal(body, &er)
		return resp.StatusCode, er.Error.Code + " " + er.Error.Message
	}
	if code, msg := chat(reporting, "deepseek-chat"); code != 200 {
		t.Fatalf("IdP token: %d %s", code, msg)
	}
	if code, _ := chat(reporting, "deepseek-reasoner"); code != http.StatusForbidden {
		t.Errorf("a model outside the mapped allow-list: %d", code)
	}
	if code, msg := chat(op.ServiceToken(t, "svc-nobody", "s3"), "deepseek-chat"); code != http.StatusForbidden || !strings.Contains(msg, "no claim mapping") {
		t.Errorf("unmapped caller: %d %s", code, msg)
	}
	if resp, b := e.do(t, "GET", "/admin/keys", reporting, ""); resp.StatusCode != http.StatusForbidden {
		t.Errorf("developer on the admin API: %d %s", resp.StatusCode, b)
	}
	if resp, b := e.do(t, "GET", "/admin/keys", op.ServiceToken(t, "svc-ops", "s2"), ""); resp.StatusCode != 200 {
		t.Errorf("admin group on the admin API: %d %s", resp.StatusCode, b)
	}

	// Charged as team ml: the team's budget runs out.
	refused := false
	for i := 0; i < 40 && !refused; i++ {
		code, msg := chat(reporting, "deepseek-chat")
		switch {
		case code == http.StatusTooManyRequests && strings.HasPrefix(msg, "budget_exhausted"):
			refused = true
		case code != 200:
			t.Fatalf("request %d: %d %s", i, code, msg)
		}
	}
	if !refused {
		t.Fatal("team ml's budget never ran out")
	}

	testkit.Eventually(t, 10*time.Second, "the audit record of the IdP caller", func() bool {
		ev, ok := readAudit(t, dir)["POST /v1/chat/completions"]
		return ok && ev.Principal == "corp:svc-reporting" && ev.Role == "developer"
	})
}

// apiServer models a Kubernetes API server as a service-account token
// issuer: it serves /.well-known/openid-configuration and /openid/v1/jwks
// over TLS, only to callers with a bearer token (as clusters that do not
// grant anonymous discovery do), and signs projected tokens with RS256.
type apiServer struct {
	*httptest.Server
	key     *rsa.PrivateKey
	kid     string
	caFile  string
	callers atomic.Int64 // requests that carried the reader's token
}

func startAPIServer(t *testing.T, readerToken string) *apiServer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	a := &apiServer{key: key, kid: "k8s-sa-key-1"}
	a.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+readerToken {
			http.Error(w, `{"kind":"Status","code":401}`, http.StatusUnauthorized)
			return
		}
		a.callers.Add(1)
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			json.NewEncoder(w).Encode(map[string]any{"issuer": a.URL, "jwks_uri": a.URL + "/openid/v1/jwks",
				"response_types_supported": []string{"id_token"}, "subject_types_supported": []string{"public"},
				"id_token_signing_alg_values_supported": []string{"RS256"}})
		case "/openid/v1/jwks":
			w.Header().Set("Content-Type", "application/jwk-set+json")
			json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{"use": "sig", "kty": "RSA", "kid": a.kid, "alg": "RS256",
				"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()), "e": "AQAB"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(a.Close)
	a.caFile = filepath.Join(t.TempDir(), "ca.crt")
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Certificate().Raw})
	if err := os.WriteFile(a.caFile, pemCert, 0o600); err != nil {
		t.Fatal(err)
	}
	return a
}

// projected returns a projected service-account token as the kubelet
// mounts it: RS256, kid, audience-bound, sub system:serviceaccount:NS:NAME
// and the kubernetes.io claim.
func (a *apiServer) projected(t *testing.T, ns, name, aud string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"aud": []string{aud}, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "nbf": now.Unix(),
		"iss": a.URL, "jti": "b6f1c7a2", "sub": "system:serviceaccount:" + ns + ":" + name,
		"kubernetes.io": map[string]any{"namespace": ns, "node": map[string]any{"name": "node-1", "uid": "n1"},
			"pod":            map[string]any{"name": name + "-7d9f", "uid": "p1"},
			"serviceaccount": map[string]any{"name": name, "uid": "s1"}, "warnafter": now.Add(50 * time.Minute).Unix()},
	})
	tok.Header["kid"] = a.kid
	s, err := tok.SignedString(a.key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A pod with only its projected service-account token calls dsgate: the
// cluster is one more issuer (discovery and JWKS over TLS with the
// cluster's CA and dsgate's own service-account token), the namespace maps
// to a role and team, and the audit record names the service account.
// Tokens for another audience are refused.
func TestKubernetesProjectedToken(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	reader := filepath.Join(dir, "dsgate-sa-token")
	if err := os.WriteFile(reader, []byte("dsgate-reader-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	k8s := startAPIServer(t, "dsgate-reader-token")
	e := startAuth(t, `  limits: {rpm: 1000}
  issuers:
    - name: k8s
      issuer: `+k8s.URL+`
      audiences: [dsgate]
      algorithms: [RS256]
      ca_file: `+k8s.caFile+`
      token_file: `+reader+`
      rules:
        - {claim: kubernetes.io.namespace, value: ml, role: developer, team: ml}
audit: {enabled: true, dir: "`+dir+`"}`)
	body := `{"model":"deepseek-chat","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
	resp, b := e.do(t, "POST", "/v1/chat/completions", k8s.projected(t, "ml", "batch", "dsgate"), body)
	if resp.StatusCode != 200 {
		t.Fatalf("projected token: %d %s", resp.StatusCode, b)
	}
	if k8s.callers.Load() == 0 {
		t.Fatal("dsgate did not read the cluster's keys with its token")
	}
	if resp, b := e.do(t, "POST", "/v1/chat/completions", k8s.projected(t, "ml", "batch", "https://kubernetes.default.svc"), body); resp.StatusCode != 401 {
		t.Errorf("token for the API server's audience: %d %s", resp.StatusCode, b)
	}
	if resp, _ := e.do(t, "POST", "/v1/chat/completions", k8s.projected(t, "web", "frontend", "dsgate"), body); resp.StatusCode != 403 {
		t.Errorf("a namespace without a mapping: %d", resp.StatusCode)
	}
	testkit.Eventually(t, 10*time.Second, "the audit record of the pod", func() bool {
		for _, ev := range readAuditAll(t, dir) {
			if ev.Principal == "k8s:system:serviceaccount:ml:batch" && ev.Role == "developer" && ev.Status == 200 {
				return true
			}
		}
		return false
	})
}

// readAuditAll returns every record in the audit files.
func readAuditAll(t *testing.T, dir string) []audit.Event {
	t.Helper()
	var out []audit.Event
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.jsonl"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			var ev audit.Event
			if json.Unmarshal([]byte(line), &ev) == nil {
				out = append(out, ev)
			}
		}
	}
	return out
}
