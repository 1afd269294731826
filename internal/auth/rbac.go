package auth

import (
	"fmt"
	"path"
	"strings"
	"sync/atomic"

	"github.com/dsgate/dsgate/internal/store"
)

// Resources named by the route table and by roles.
const (
	ResourceTextGeneration = "text_generation"
	ResourceEmbeddings     = "embeddings"
	ResourceModels         = "models"
	ResourceBatches        = "batches"
	ResourceCache          = "cache"
	ResourceAdminKeys      = "admin.keys"
	ResourceAdminClients   = "admin.clients"
	ResourceAdminRoles     = "admin.roles"
	ResourceAdminUsage     = "admin.usage"
	ResourceAdminUpstreams = "admin.upstreams"
	ResourceAudit          = "audit"
)

// Actions, CRUD as in the seed's role definitions. Calling a model counts
// as "read" of text_generation or embeddings, which is what lets the seed's
// analyst role (read on text_generation) chat.
const (
	ActionCreate = "create"
	ActionRead   = "read"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Resources lists every resource, for tests and documentation.
var Resources = []string{ResourceTextGeneration, ResourceEmbeddings, ResourceModels, ResourceBatches, ResourceCache,
	ResourceAdminKeys, ResourceAdminClients, ResourceAdminRoles, ResourceAdminUsage, ResourceAdminUpstreams, ResourceAudit}

// Actions lists every action.
var Actions = []string{ActionCreate, ActionRead, ActionUpdate, ActionDelete}

// BuiltinRoles are always defined unless the store or config redefines the
// name: analyst (the seed: read text_generation), developer (use every model
// API and batches) and admin (everything). The cache resource (GET and
// DELETE /admin/cache) is an administrator's: its statistics count every
// tenant's hits and misses, so no built-in role but admin has it.
func BuiltinRoles() []store.Role {
	return []store.Role{
		{Name: "analyst", Grants: []store.Grant{{Resource: ResourceTextGeneration, Actions: []string{ActionRead}}}},
		{Name: "developer", Grants: []store.Grant{
			{Resource: ResourceTextGeneration, Actions: []string{"*"}},
			{Resource: ResourceEmbeddings, Actions: []string{"*"}},
			{Resource: ResourceModels, Actions: []string{ActionRead}},
			{Resource: ResourceBatches, Actions: []string{"*"}},
		}},
		{Name: "admin", Grants: []store.Grant{{Resource: "*", Actions: []string{"*"}}}},
	}
}

// Policy decides whether a principal may act on a resource. Roles come from
// three layers, later ones replacing earlier ones by name: built-in roles,
// roles in the store (SetStoreRoles), roles in config (NewPolicy). Allow is
// lock-free and allocation-free when it allows; safe for concurrent use.
type Policy struct {
	config []store.Role
	roles  atomic.Pointer[map[string]*compiledRole]
}

type compiledRole struct {
	grants []compiledGrant
	models []string
}

type compiledGrant struct {
	resource string // "*", "prefix.*" (stored as "prefix."), or exact
	prefix   bool
	actions  []string // contains "*" for any
}

// NewPolicy returns a policy with the built-in roles and configRoles.
func NewPolicy(configRoles []store.Role) (*Policy, error) {
	p := &Policy{config: configRoles}
	if err := p.SetStoreRoles(nil); err != nil {
		return nil, err
	}
	return p, nil
}

// SetStoreRoles replaces the store layer atomically; call it after loading
// roles at start and whenever they change (the admin API does).
func (p *Policy) SetStoreRoles(roles []store.Role) error {
	m := make(map[string]*compiledRole)
	for _, layer := range [][]store.Role{BuiltinRoles(), roles, p.config} {
		for _, r := range layer {
			c, err := compileRole(r)
			if err != nil {
				return err
			}
			m[r.Name] = c
		}
	}
	p.roles.Store(&m)
	return nil
}

// ValidateRole checks a role definition without installing it.
func ValidateRole(r store.Role) error {
	_, err := compileRole(r)
	return err
}

func compileRole(r store.Role) (*compiledRole, error) {
	if r.Name == "" {
		return nil, fmt.Errorf("role without a name")
	}
	c := &compiledRole{models: r.Models}
	for _, m := range r.Models {
		if _, err := path.Match(m, ""); err != nil {
			return nil, fmt.Errorf("role %s: model pattern %q: %w", r.Name, m, err)
		}
	}
	for _, g := range r.Grants {
		res := g.Resource
		cg := compiledGrant{resource: res, actions: g.Actions}
		switch {
		case res == "":
			return nil, fmt.Errorf("role %s: grant without a resource", r.Name)
		case res == "*":
		case res != "*" && strings.HasSuffix(res, ".*"):
			cg.resource, cg.prefix = strings.TrimSuffix(res, "*"), true
		case strings.Contains(res, "*"):
			return nil, fmt.Errorf("role %s: resource %q: wildcard only as \"*\" or a trailing \".*\"", r.Name, res)
		}
		if len(g.Actions) == 0 {
			return nil, fmt.Errorf("role %s: grant on %s without actions", r.Name, res)
		}
		c.grants = append(c.grants, cg)
	}
	return c, nil
}

// Roles returns the names of all defined roles.
func (p *Policy) Roles() []string {
	m := *p.roles.Load()
	out := make([]string, 0, len(m))
	for name := range m {
		out = append(out, name)
	}
	return out
}

// HasRole reports whether name is defined.
func (p *Policy) HasRole(name string) bool {
	_, ok := (*p.roles.Load())[name]
	return ok
}

// Allow returns nil if p's role grants action on resource and, when model
// is not empty, both the role's and the principal's model allow-lists
// admit it. Otherwise it returns an error wrapping ErrForbidden (or
// ErrUnauthenticated for a nil principal).
func (pol *Policy) Allow(p *Principal, resource, action, model string) error {
	if p == nil {
		return ErrNoCredentials
	}
	role, ok := (*pol.roles.Load())[p.Role]
	if !ok {
		return fmt.Errorf("%w: unknown role %q", ErrForbidden, p.Role)
	}
	if !role.permits(resource, action) {
		return fmt.Errorf("%w: role %q may not %s %s", ErrForbidden, p.Role, action, resource)
	}
	if model != "" && (!modelAllowed(role.models, model) || !modelAllowed(p.Models, model)) {
		return fmt.Errorf("%w: model %q not allowed for %s %s", ErrForbidden, model, p.Kind, p.ID)
	}
	return nil
}

func (r *compiledRole) permits(resource, action string) bool {
	for i := range r.grants {
		g := &r.grants[i]
		switch {
		case g.resource == "*":
		case g.prefix && strings.HasPrefix(resource, g.resource):
		case !g.prefix && g.resource == resource:
		default:
			continue
		}
		for _, a := range g.actions {
			if a == "*" || a == action {
				return true
			}
		}
	}
	return false
}

// modelAllowed reports whether model matches one of the patterns (path.Match
// syntax, e.g. "deepseek-*"); an empty list allows every model.
func modelAllowed(patterns []string, model string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, pat := range patterns {
		if pat == model || pat == "*" {
			return true
		}
		if ok, _ := path.Match(pat, model); ok {
			return true
		}
	}
	return false
}
