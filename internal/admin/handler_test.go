package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

// newHandler authorizes with the built-in policy on a role taken from the
// X-Test-Role header (standing in for the transport's authentication).
func newHandler(t *testing.T) (*admin.Handler, store.Store, *auth.Policy) {
	t.Helper()
	st := storetest.OpenSQLite(t)
	pol, err := auth.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := admin.New(admin.Options{
		Store: st,
		Authorize: func(r *http.Request, resource, action string) (*auth.Principal, error) {
			role := r.Header.Get("X-Test-Role")
			if role == "" {
				return nil, auth.ErrNoCredentials
			}
			p := &auth.Principal{ID: "t", Kind: auth.KindKey, Role: role}
			if m := r.Header.Get("X-Test-Models"); m != "" {
				p.Models = strings.Split(m, ",")
			}
			return p, pol.Allow(p, resource, action, "")
		},
		Policy: func() *auth.Policy { return pol },
		RolesChanged: func(ctx context.Context) error {
			roles, err := st.ListRoles(ctx)
			if err != nil {
				return err
			}
			return pol.SetStoreRoles(roles)
		},
		SecretParams: auth.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, st, pol
}

func do(t *testing.T, h http.Handler, role, method, path, body string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if role != "" {
		req.Header.Set("X-Test-Role", role)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %s: body %q", method, path, rec.Body)
		}
	}
	return rec, m
}

func TestAuthorizationMatrix(t *testing.T) {
	h, _, _ := newHandler(t)
	routes := []struct{ method, path, body string }{
		{"GET", "/admin/keys", ""},
		{"POST", "/admin/keys", `{"name":"x","role":"analyst"}`},
		{"GET", "/admin/keys/none", ""},
		{"DELETE", "/admin/keys/none", ""},
		{"GET", "/admin/clients", ""},
		{"POST", "/admin/clients", `{"name":"x","role":"analyst"}`},
		{"GET", "/admin/clients/none", ""},
		{"DELETE", "/admin/clients/none", ""},
		{"GET", "/admin/roles", ""},
		{"GET", "/admin/roles/none", ""},
		{"PUT", "/admin/roles/r1", `{"permissions":[{"resource":"models","actions":["read"]}]}`},
		{"DELETE", "/admin/roles/none", ""},
		{"GET", "/admin/usage", ""},
	}
	for _, role := range []string{"", "analyst", "developer", "admin"} {
		for _, rt := range routes {
			t.Run(fmt.Sprintf("%s %s %s", role, rt.method, rt.path), func(t *testing.T) {
				rec, body := do(t, h, role, rt.method, rt.path, rt.body)
				switch role {
				case "":
					if rec.Code != 401 || rec.Header().Get("WWW-Authenticate") == "" {
						t.Fatalf("unauthenticated: %d", rec.Code)
					}
				case "admin":
					if rec.Code >= 400 && rec.Code != 404 {
						t.Fatalf("admin: %d %v", rec.Code, body)
					}
				default:
					if rec.Code != 403 {
						t.Fatalf("%s: %d, want 403", role, rec.Code)
					}
					e := body["error"].(map[string]any)
					if e["type"] != "permission_error" || e["message"] == "" {
						t.Fatalf("error body = %v", body)
					}
				}
			})
		}
	}
}

func TestKeyLifecycle(t *testing.T) {
	h, st, _ := newHandler(t)
	rec, body := do(t, h, "admin", "POST", "/admin/keys", `{"name":"ci","role":"developer","models":["deepseek-*"],"rpm":60,"expires_in":"90d"}`)
	if rec.Code != 201 || !strings.HasPrefix(body["key"].(string), auth.KeyPrefix) {
		t.Fatalf("create: %d %v", rec.Code, body)
	}
	id, full := body["id"].(string), body["key"].(string)
	exp, _ := time.Parse(time.RFC3339, body["expires_at"].(string))
	if d := time.Until(exp); d < 89*24*time.Hour || d > 91*24*time.Hour {
		t.Fatalf("expires_at = %v", exp)
	}
	a := auth.NewKeyAuthenticator(st, auth.KeyAuthenticatorOptions{})
	if _, err := a.AuthenticateKey(context.Background(), full); err != nil {
		t.Fatalf("created key rejected: %v", err)
	}
	rec, _ = do(t, h, "admin", "GET", "/admin/keys", "")
	if strings.Contains(rec.Body.String(), full[len(full)-20:]) || strings.Contains(rec.Body.String(), "hash") {
		t.Fatalf("list leaks secret material: %s", rec.Body)
	}
	for _, bad := range []string{`{"name":"x","role":"wizard"}`, `{"role":"admin"}`, `{"name":"x","role":"admin","expires_in":"soon"}`, `{"name":"x","role":"admin","bogus":1}`} {
		if rec, _ := do(t, h, "admin", "POST", "/admin/keys", bad); rec.Code != 400 {
			t.Errorf("create %s: %d, want 400", bad, rec.Code)
		}
	}
	rec, body = do(t, h, "admin", "DELETE", "/admin/keys/"+id, "")
	if rec.Code != 200 || body["revoked_at"] == nil {
		t.Fatalf("revoke: %d %v", rec.Code, body)
	}
	if rec, _ := do(t, h, "admin", "DELETE", "/admin/keys/nope", ""); rec.Code != 404 {
		t.Fatalf("revoke unknown: %d", rec.Code)
	}
}

func TestClientsRolesUsage(t *testing.T) {
	h, st, pol := newHandler(t)
	rec, body := do(t, h, "admin", "POST", "/admin/clients", `{"name":"search","role":"developer","scopes":["chat"]}`)
	if rec.Code != 201 || body["client_secret"] == "" || !strings.HasPrefix(body["client_id"].(string), "cl_") {
		t.Fatalf("create client: %d %v", rec.Code, body)
	}
	c, err := st.Client(context.Background(), body["client_id"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := auth.VerifySecret(c.SecretHash, body["client_secret"].(string)); !ok {
		t.Fatal("stored hash does not match the returned secret")
	}

	rec, _ = do(t, h, "admin", "PUT", "/admin/roles/viewer", `{"permissions":[{"resource":"models","actions":["read"]}]}`)
	if rec.Code != 200 || !pol.HasRole("viewer") {
		t.Fatalf("put role: %d, policy has viewer=%v", rec.Code, pol.HasRole("viewer"))
	}
	if rec, _ := do(t, h, "viewer", "GET", "/admin/keys", ""); rec.Code != 403 {
		t.Fatalf("viewer on admin: %d", rec.Code)
	}
	if rec, _ := do(t, h, "admin", "PUT", "/admin/roles/bad", `{"permissions":[{"resource":"adm*n","actions":["read"]}]}`); rec.Code != 400 {
		t.Fatalf("invalid role: %d", rec.Code)
	}
	if rec, _ := do(t, h, "admin", "DELETE", "/admin/roles/viewer", ""); rec.Code != 204 || pol.HasRole("viewer") {
		t.Fatalf("delete role: %d", rec.Code)
	}

	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	_ = st.AddUsage(context.Background(), []store.UsageDelta{
		{Kind: store.KindKey, PrincipalID: "k1", Model: "m", Day: day, Requests: 2, PromptTokens: 10, CacheHitTokens: 4, CompletionTokens: 5},
		{Kind: store.KindClient, PrincipalID: "c1", Model: "m", Day: day, Requests: 1, PromptTokens: 1},
	})
	rec, body = do(t, h, "admin", "GET", "/admin/usage?kind=key&id=k1&from=2026-03-01&to=2026-03-02", "")
	total := body["total"].(map[string]any)
	if rec.Code != 200 || total["requests"].(float64) != 2 || total["prompt_cache_hit_tokens"].(float64) != 4 {
		t.Fatalf("usage: %d %v", rec.Code, body)
	}
	if rec, _ := do(t, h, "admin", "GET", "/admin/usage?from=yesterday", ""); rec.Code != 400 {
		t.Fatalf("bad date: %d", rec.Code)
	}
}

func newReq(method, path, body, role, models string) *http.Request {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("X-Test-Role", role)
	if models != "" {
		req.Header.Set("X-Test-Models", models)
	}
	return req
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
