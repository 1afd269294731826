package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
)

// TestPatchLimits: PATCH /admin/keys/{id} and /admin/clients/{id} replace
// models and limits, with CreateKey's checks: a caller restricted to one
// model cannot widen a key past it, nor edit a key whose role it lacks.
func TestPatchLimits(t *testing.T) {
	h, st, pol := newHandler(t)
	ctx := context.Background()
	k, err := admin.CreateKey(ctx, st, admin.KeyRequest{Name: "k", Role: "developer"}, time.Now(), pol, nil)
	if err != nil {
		t.Fatal(err)
	}
	adm, err := admin.CreateKey(ctx, st, admin.KeyRequest{Name: "a", Role: "admin"}, time.Now(), pol, nil)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := admin.CreateClient(ctx, st, admin.ClientRequest{Name: "c", Role: "developer"}, time.Now(), pol, nil,
		auth.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	rec, body := do(t, h, "admin", "PATCH", "/admin/keys/"+k.ID, `{"models":["deepseek-chat"],"rpm":1,"tpm":2,"max_concurrent":3}`)
	if rec.Code != 200 || body["rpm"] != 1.0 || body["max_concurrent"] != 3.0 {
		t.Fatalf("patch key: %d %v", rec.Code, body)
	}
	got, _ := st.Key(ctx, k.ID)
	if got.RPM != 1 || got.TPM != 2 || len(got.Models) != 1 {
		t.Fatalf("stored key %+v", got)
	}
	if rec, body := do(t, h, "admin", "PATCH", "/admin/clients/"+cl.ID, `{"rpm":9}`); rec.Code != 200 || body["rpm"] != 9.0 {
		t.Fatalf("patch client: %d %v", rec.Code, body)
	}
	for _, tt := range []struct {
		name, role, models, path, body string
		want                           int
	}{
		{"restricted admin widens", "admin", "deepseek-chat", "/admin/keys/" + k.ID, `{"models":["*"]}`, 403},
		{"restricted admin unrestricts", "admin", "deepseek-chat", "/admin/keys/" + k.ID, `{"rpm":5}`, 403},
		{"restricted admin within", "admin", "deepseek-chat", "/admin/keys/" + k.ID, `{"models":["deepseek-chat"],"rpm":5}`, 200},
		{"developer may not update keys", "developer", "", "/admin/keys/" + k.ID, `{"rpm":5}`, 403},
		{"negative", "admin", "", "/admin/keys/" + k.ID, `{"rpm":-1}`, 400},
		{"bad pattern", "admin", "", "/admin/clients/" + cl.ID, `{"models":["[x"]}`, 400},
		{"unknown key", "admin", "", "/admin/keys/nope", `{"rpm":1}`, 404},
		{"unknown field", "admin", "", "/admin/keys/" + k.ID, `{"role":"admin"}`, 400},
		{"admin key edited by restricted admin", "admin", "deepseek-chat", "/admin/keys/" + adm.ID, `{"models":["deepseek-chat"]}`, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := serve(h, newReq("PATCH", tt.path, tt.body, tt.role, tt.models))
			if rec.Code != tt.want {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tt.want)
			}
		})
	}
}
