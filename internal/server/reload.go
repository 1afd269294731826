package server

import (
	"context"
	"reflect"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/config"
)

// reloadable are the config keys a reload applies: the routing generation
// (upstreams, models and their cache policy, routing), access control
// (authentication on or off, default limits, roles and their model
// allow-lists, client certificates), the shutdown grace period and the
// collector's floor (server.gc_headroom_bytes). Every
// other key is built into a listener, store, writer or handler at start
// and needs a restart; a reload that changes one is refused whole.
var reloadable = map[string]bool{
	"upstreams":                true,
	"models":                   true,
	"routing":                  true,
	"cache.shared":             true,
	"auth.enabled":             true,
	"auth.limits":              true,
	"auth.roles":               true,
	"auth.mtls":                true,
	"server.shutdown_grace":    true,
	"server.gc_headroom_bytes": true,
}

// RestartRequiredError refuses a reload that changes keys only a restart
// applies. Nothing of that reload was applied.
type RestartRequiredError struct {
	Keys   []string // dotted config keys, e.g. "server.listen"
	Reason string   // set when the refusal needs more than the key names
}

func (e *RestartRequiredError) Error() string {
	msg := "changing " + strings.Join(e.Keys, ", ") + " needs a restart"
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	return msg + "; nothing of this reload was applied"
}

// restartKeys lists the keys that differ between old and next and that a
// reload cannot apply.
func restartKeys(old, next *config.Config) []string {
	var keys []string
	diffKeys(reflect.ValueOf(*old), reflect.ValueOf(*next), "", &keys)
	return keys
}

// diffKeys compares two structs field by field under their YAML names.
// A reloadable key is skipped, a section is walked into, and any other
// difference is reported under its key (a list, map or secret as a whole).
func diffKeys(a, b reflect.Value, prefix string, keys *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue // derived from the exported fields
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		path := prefix
		if !strings.Contains(opts, "inline") {
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			if name == "-" {
				continue
			}
			path = joinKey(prefix, name)
		}
		fa, fb := a.Field(i), b.Field(i)
		if reloadable[path] || reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			continue
		}
		if isSection(f.Type) {
			diffKeys(fa, fb, path, keys)
			continue
		}
		*keys = append(*keys, path)
	}
}

// isSection reports whether t is a config section to walk into: a struct
// with YAML-tagged fields. A value struct (a secret, whose fields are
// hidden) is compared whole.
func isSection(t reflect.Type) bool {
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := range t.NumField() {
		if f := t.Field(i); f.IsExported() && f.Tag.Get("yaml") != "" {
			return true
		}
	}
	return false
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// Reload applies cfg: it builds a new routing generation (reusing the
// upstreams whose definition did not change, with their breaker, health,
// latency and load), replaces the access options and swaps both in. A
// change of a key that needs a restart refuses the whole reload with a
// *RestartRequiredError naming the keys; any other error also leaves the
// running configuration as it was.
func (s *Server) Reload(cfg *config.Config) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() { s.reloads.add(time.Now(), err) }()
	old := s.gen.Load()
	if keys := restartKeys(old.cfg, cfg); len(keys) > 0 {
		return &RestartRequiredError{Keys: keys}
	}
	if cfg.Auth.Enabled && s.core.authOpts == nil {
		return &RestartRequiredError{Keys: []string{"auth.enabled"},
			Reason: "the process started without authentication, so its store and key services were not built"}
	}
	gen, err := build(cfg, s.log, s.core, old)
	if err != nil {
		return err
	}
	// The admin API may change store roles meanwhile: load them and swap
	// the policy under the same lock.
	s.core.rolesMu.Lock()
	defer s.core.rolesMu.Unlock()
	ao, policy, err := s.core.accessOptions(cfg)
	if err != nil {
		gen.abort()
		return err
	}
	if policy != nil {
		s.core.policy.Store(policy)
	}
	s.core.access.Update(ao)
	s.gen.Store(gen)
	if old.cfg.Auth.Enabled != cfg.Auth.Enabled {
		s.log.Warn("authentication switched by reload", "enabled", cfg.Auth.Enabled)
	}
	if n := cfg.Server.GCHeadroomBytes; n != old.cfg.Server.GCHeadroomBytes {
		s.applyGCFloor(n)
	}
	// Requests already routed to the old generation keep their upstreams;
	// those the new one does not carry on stop after the grace period.
	go old.release(gen, old.cfg.Server.ShutdownGrace)
	return nil
}

// accessOptions are the access options for cfg and, with authentication
// on, the new policy: config roles over the store's roles, loaded now.
// The caller holds c.rolesMu.
func (c *core) accessOptions(cfg *config.Config) (access.Options, *auth.Policy, error) {
	if !cfg.Auth.Enabled {
		return access.Options{Disabled: true}, nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	policy, err := LoadPolicy(ctx, cfg.Auth.Roles, c.store)
	if err != nil {
		return access.Options{}, nil, err
	}
	o := *c.authOpts
	o.Policy, o.Defaults, o.MTLS = policy, limits(cfg.Auth.Limits), mtls(cfg.Auth.MTLS)
	return o, policy, nil
}
