package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/store"
)

// LoadPolicy builds the RBAC policy from the built-in roles, the roles in
// the store and those in config (auth.roles), in that order of precedence
// from lowest. serve and the `dsgate keys|clients` commands use it, so a
// role the gateway accepts is one the CLI accepts.
func LoadPolicy(ctx context.Context, roles []config.Role, st store.RoleStore) (*auth.Policy, error) {
	policy, err := auth.NewPolicy(configRoles(roles))
	if err != nil {
		return nil, fmt.Errorf("auth.roles: %w", err)
	}
	stored, err := st.ListRoles(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading roles: %w", err)
	}
	if err := policy.SetStoreRoles(stored); err != nil {
		return nil, fmt.Errorf("store roles: %w", err)
	}
	return policy, nil
}

func configRoles(rs []config.Role) []store.Role {
	out := make([]store.Role, 0, len(rs))
	for _, r := range rs {
		sr := store.Role{Name: r.Name, Models: r.Models}
		for _, p := range r.Permissions {
			sr.Grants = append(sr.Grants, store.Grant{Resource: p.Resource, Actions: p.Actions})
		}
		out = append(out, sr)
	}
	return out
}

// bootstrapAdmin imports auth.bootstrap_admin_key (when set) as the first
// admin key; see admin.ImportBootstrapKey.
func bootstrapAdmin(ctx context.Context, key string, st store.KeyStore, log *slog.Logger) error {
	if key == "" {
		return nil
	}
	res, id, err := admin.ImportBootstrapKey(ctx, st, key, time.Now())
	if err != nil {
		return fmt.Errorf("auth.bootstrap_admin_key: %w", err)
	}
	switch res {
	case admin.BootstrapCreated:
		log.Info("bootstrap admin key imported", "key_id", id)
	case admin.BootstrapMismatch:
		log.Warn("auth.bootstrap_admin_key: a key with this id exists with another secret; the configured key will not authenticate", "key_id", id)
	}
	return nil
}
