package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
	"github.com/dsgate/dsgate/internal/testkit/idptest"
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
