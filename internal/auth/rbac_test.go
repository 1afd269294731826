package auth

import (
	"errors"
	"fmt"
	"testing"

	"github.com/dsgate/dsgate/internal/store"
)

// TestAuthorizationMatrix checks every built-in role against every route
// in Routes, from an expectation table written independently of the role
// definitions.
func TestAuthorizationMatrix(t *testing.T) {
	pol, err := NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]map[string]bool{
		"analyst": {"text_generation:read": true},
		"developer": {
			"text_generation:read": true, "embeddings:read": true, "models:read": true,
			// Not cache:read: GET /admin/cache shows every tenant's hit and
			// miss counts (trial #28); it is an admin's.
			"batches:create": true, "batches:read": true, "batches:update": true,
		},
	}
	for _, role := range []string{"analyst", "developer", "admin", "nobody"} {
		for _, rt := range Routes() {
			name := fmt.Sprintf("%s/%s %s", role, rt.Method, rt.Pattern)
			t.Run(name, func(t *testing.T) {
				p := &Principal{ID: "k1", Kind: KindKey, Role: role}
				err := pol.Allow(p, rt.Resource, rt.Action, "")
				want := role == "admin" || allowed[role][rt.Resource+":"+rt.Action]
				if want && err != nil {
					t.Fatalf("denied: %v", err)
				}
				if !want && !errors.Is(err, ErrForbidden) {
					t.Fatalf("got %v, want ErrForbidden", err)
				}
			})
		}
	}
	// Every resource and action pair, not only those with routes.
	for _, res := range Resources {
		for _, act := range Actions {
			if err := pol.Allow(&Principal{Role: "admin"}, res, act, "any-model"); err != nil {
				t.Errorf("admin %s %s: %v", act, res, err)
			}
			if err := pol.Allow(&Principal{Role: "analyst"}, res, act, ""); (err == nil) != (res == ResourceTextGeneration && act == ActionRead) {
				t.Errorf("analyst %s %s: %v", act, res, err)
			}
		}
	}
}

func TestPolicyLayersAndWildcards(t *testing.T) {
	config := []store.Role{
		{Name: "auditor", Grants: []store.Grant{{Resource: "admin.*", Actions: []string{"read"}}, {Resource: "audit", Actions: []string{"*"}}}},
		{Name: "analyst", Grants: []store.Grant{{Resource: "text_generation", Actions: []string{"read"}}}, Models: []string{"deepseek-chat"}},
	}
	pol, err := NewPolicy(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := pol.SetStoreRoles([]store.Role{
		{Name: "analyst", Grants: []store.Grant{{Resource: "*", Actions: []string{"*"}}}}, // config wins
		{Name: "ops", Grants: []store.Grant{{Resource: "cache", Actions: []string{"delete"}}}},
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		p                       Principal
		resource, action, model string
		want                    bool
	}{
		{Principal{Role: "auditor"}, "admin.keys", "read", "", true},
		{Principal{Role: "auditor"}, "admin.clients", "read", "", true},
		{Principal{Role: "auditor"}, "admin.keys", "delete", "", false},
		{Principal{Role: "auditor"}, "audit", "delete", "", true},
		{Principal{Role: "auditor"}, "administrator", "read", "", false},
		{Principal{Role: "analyst"}, "text_generation", "read", "deepseek-chat", true},
		{Principal{Role: "analyst"}, "text_generation", "read", "deepseek-reasoner", false},
		{Principal{Role: "analyst"}, "embeddings", "read", "", false},
		{Principal{Role: "ops"}, "cache", "delete", "", true},
		{Principal{Role: "developer", Models: []string{"deepseek-*"}}, "text_generation", "read", "deepseek-reasoner", true},
		{Principal{Role: "developer", Models: []string{"deepseek-*"}}, "text_generation", "read", "gpt-4o", false},
		{Principal{Role: "admin", Models: []string{"deepseek-chat"}}, "text_generation", "read", "qwen", false},
	}
	for _, tt := range tests {
		err := pol.Allow(&tt.p, tt.resource, tt.action, tt.model)
		if (err == nil) != tt.want {
			t.Errorf("%s %s %s model=%q: err=%v, want allowed=%v", tt.p.Role, tt.action, tt.resource, tt.model, err, tt.want)
		}
	}
	if err := pol.Allow(nil, "models", "read", ""); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("nil principal: %v", err)
	}
	for _, bad := range []store.Role{
		{Name: ""},
		{Name: "x", Grants: []store.Grant{{Resource: "adm*n", Actions: []string{"read"}}}},
		{Name: "x", Grants: []store.Grant{{Resource: "models"}}},
		{Name: "x", Models: []string{"[bad"}},
	} {
		if err := ValidateRole(bad); err == nil {
			t.Errorf("ValidateRole(%+v) accepted", bad)
		}
	}
}
