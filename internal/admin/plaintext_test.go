package admin_test

import (
	"net/http"
	"testing"
)

// TestControlCharactersRefused: names, roles, model patterns and ids with
// control characters or invalid UTF-8 are a 400, never a store error (a
// NUL makes PostgreSQL fail the query: the re-trial got 500s).
func TestControlCharactersRefused(t *testing.T) {
	h, _, _ := newHandler(t)
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/admin/keys", `{"name":"n\u0000x","role":"analyst"}`},
		{"POST", "/admin/keys", `{"name":"n","role":"analyst","models":["deepseek-\u0000chat"]}`},
		{"POST", "/admin/clients", `{"name":"c\u0000","role":"analyst"}`},
		{"POST", "/admin/clients", `{"name":"c","role":"analyst","models":["m\u001b"]}`},
		{"GET", "/admin/usage?id=a%00", ""},
		{"GET", "/admin/usage?id=a%FF", ""},
	} {
		rec, _ := do(t, h, "admin", tc.method, tc.path, tc.body)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s %s %s: %d %s, want 400", tc.method, tc.path, tc.body, rec.Code, rec.Body)
		}
	}
}
