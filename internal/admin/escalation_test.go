package admin_test

import (
	"net/http"
	"testing"
)

// TestNoEscalation: nobody hands out a role, permission or model they do
// not hold (issue 13 item 8: a role holding only admin.keys:create minted
// an admin key). Each row runs as a caller with a role (and optionally a
// model allow-list of its own) against the keys, clients and roles
// endpoints.
func TestNoEscalation(t *testing.T) {
	h, _, _ := newHandler(t)
	setup := map[string]string{
		"keymaker":   `{"permissions":[{"resource":"admin.keys","actions":["create"]}]}`,
		"keydev":     `{"permissions":[{"resource":"admin.keys","actions":["create"]},{"resource":"text_generation","actions":["*"]},{"resource":"embeddings","actions":["*"]},{"resource":"models","actions":["read"]},{"resource":"batches","actions":["*"]},{"resource":"cache","actions":["read"]}],"models":["deepseek-chat"]}`,
		"clientdev":  `{"permissions":[{"resource":"admin.clients","actions":["create"]},{"resource":"text_generation","actions":["read"]}],"models":["deepseek-*"]}`,
		"rolewriter": `{"permissions":[{"resource":"admin.roles","actions":["update","delete"]},{"resource":"text_generation","actions":["read"]}]}`,
		"narrowdev":  `{"permissions":[{"resource":"text_generation","actions":["read"]}]}`,
	}
	for name, body := range setup {
		if rec, b := do(t, h, "admin", "PUT", "/admin/roles/"+name, body); rec.Code != 200 {
			t.Fatalf("setup %s: %d %v", name, rec.Code, b)
		}
	}
	// The store shadows the built-in developer with a narrower one, so
	// deleting it would widen developer back.
	if rec, _ := do(t, h, "admin", "PUT", "/admin/roles/developer", `{"permissions":[{"resource":"text_generation","actions":["read"]}]}`); rec.Code != 200 {
		t.Fatal("setup developer")
	}
	tests := []struct {
		name, role, models, method, path, body string
		want                                   int
	}{
		{"keymaker mints admin", "keymaker", "", "POST", "/admin/keys", `{"name":"x","role":"admin"}`, 403},
		{"keymaker mints keymaker", "keymaker", "", "POST", "/admin/keys", `{"name":"x","role":"keymaker"}`, 201},
		{"keymaker mints analyst", "keymaker", "", "POST", "/admin/keys", `{"name":"x","role":"analyst"}`, 403},
		{"keydev mints developer key for its model", "keydev", "", "POST", "/admin/keys", `{"name":"x","role":"narrowdev","models":["deepseek-chat"]}`, 201},
		{"keydev mints narrowdev unrestricted", "keydev", "", "POST", "/admin/keys", `{"name":"x","role":"narrowdev"}`, 403},
		{"keydev widens model list", "keydev", "", "POST", "/admin/keys", `{"name":"x","role":"narrowdev","models":["deepseek-*"]}`, 403},
		{"keydev wildcard models", "keydev", "", "POST", "/admin/keys", `{"name":"x","role":"narrowdev","models":["*"]}`, 403},
		{"keydev mints keydev", "keydev", "", "POST", "/admin/keys", `{"name":"x","role":"keydev"}`, 201},
		{"key-restricted admin mints unrestricted", "admin", "deepseek-chat", "POST", "/admin/keys", `{"name":"x","role":"admin"}`, 403},
		{"key-restricted admin mints within", "admin", "deepseek-chat", "POST", "/admin/keys", `{"name":"x","role":"analyst","models":["deepseek-chat"]}`, 201},
		{"admin mints admin", "admin", "", "POST", "/admin/keys", `{"name":"x","role":"admin"}`, 201},
		{"unknown role", "admin", "", "POST", "/admin/keys", `{"name":"x","role":"wizard"}`, 400},
		{"bad model pattern", "admin", "", "POST", "/admin/keys", `{"name":"x","role":"analyst","models":["[x"]}`, 400},
		{"clientdev admin client", "clientdev", "", "POST", "/admin/clients", `{"name":"x","role":"admin"}`, 403},
		{"clientdev analyst client unrestricted", "clientdev", "", "POST", "/admin/clients", `{"name":"x","role":"analyst"}`, 403},
		{"clientdev analyst client narrower pattern", "clientdev", "", "POST", "/admin/clients", `{"name":"x","role":"analyst","models":["deepseek-chat*"]}`, 201},
		{"clientdev analyst client one model", "clientdev", "", "POST", "/admin/clients", `{"name":"x","role":"analyst","models":["deepseek-reasoner"]}`, 201},
		{"clientdev analyst client other model", "clientdev", "", "POST", "/admin/clients", `{"name":"x","role":"analyst","models":["qwen"]}`, 403},
		{"rolewriter grants itself admin.keys", "rolewriter", "", "PUT", "/admin/roles/rolewriter", `{"permissions":[{"resource":"admin.*","actions":["*"]}]}`, 403},
		{"rolewriter redefines analyst wider", "rolewriter", "", "PUT", "/admin/roles/analyst", `{"permissions":[{"resource":"*","actions":["*"]}]}`, 403},
		{"rolewriter defines a role it holds", "rolewriter", "", "PUT", "/admin/roles/reader", `{"permissions":[{"resource":"text_generation","actions":["read"]}]}`, 200},
		{"rolewriter deletes the narrowed developer", "rolewriter", "", "DELETE", "/admin/roles/developer", ``, 403},
		{"rolewriter deletes reader", "rolewriter", "", "DELETE", "/admin/roles/reader", ``, 204},
		{"admin deletes the narrowed developer", "admin", "", "DELETE", "/admin/roles/developer", ``, 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newReq(tt.method, tt.path, tt.body, tt.role, tt.models)
			rec := serve(h, req)
			if rec.Code != tt.want {
				t.Fatalf("%s %s as %s: %d %s, want %d", tt.method, tt.path, tt.role, rec.Code, rec.Body, tt.want)
			}
			if tt.want == http.StatusForbidden && !contains(rec.Body.String(), "permission_error") {
				t.Fatalf("body %s", rec.Body)
			}
		})
	}
}
