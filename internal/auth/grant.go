package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dsgate/dsgate/internal/store"
)

// ErrUnknownRole means a key, client or check names a role that is not
// defined in any layer (built-in, store, config).
var ErrUnknownRole = errors.New("unknown role")

// A principal may hand out only what it holds itself: the admin API asks
// CheckGrant before creating a key or client and CheckDefine before writing
// or deleting a role. "Holds" is exact for permissions: resources and
// actions are a closed set (Resources × Actions), so a role's effective
// permissions are the pairs it permits, and the new holder's pairs must be
// a subset of the caller's. For models it is conservative: patterns are
// compared by coverage (a pattern is covered by an equal one, by "*", or by
// a trailing-* pattern whose prefix it extends), so a grant the caller
// could reach only through a clever combination of patterns is refused.

// CheckGrant returns nil when caller may give role and the model allow-list
// models to a new key or client. A nil caller is the operator with direct
// store access (the CLI), who holds everything; only the role's existence
// is checked then. Errors wrap ErrUnknownRole or ErrForbidden.
func (pol *Policy) CheckGrant(caller *Principal, role string, models []string) error {
	roles := *pol.roles.Load()
	target, ok := roles[role]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownRole, role)
	}
	if caller == nil {
		return nil
	}
	return pol.holds(roles, caller, target, models, "role "+role)
}

// CheckGrantWithin is CheckGrant for a caller whose reach is bounded by
// within too (its team's model allow-list; empty: no bound): a member of
// a team confined to some models may hand out only those.
func (pol *Policy) CheckGrantWithin(caller *Principal, role string, models, within []string) error {
	if err := pol.CheckGrant(caller, role, models); err != nil || caller == nil || len(within) == 0 {
		return err
	}
	target := (*pol.roles.Load())[role]
	if !patternsCovered(target.models, within) && !patternsCovered(models, within) {
		return fmt.Errorf("%w: role %s with models %v reaches models outside the caller's team allow-list %v",
			ErrForbidden, role, models, within)
	}
	return nil
}

// CheckDefine returns nil when caller may define r (PUT /admin/roles): the
// caller holds every permission and model the role grants. A nil caller
// holds everything.
func (pol *Policy) CheckDefine(caller *Principal, r store.Role) error {
	target, err := compileRole(r)
	if err != nil {
		return err
	}
	if caller == nil {
		return nil
	}
	return pol.holds(*pol.roles.Load(), caller, target, nil, "role "+r.Name)
}

// CheckDelete returns nil when caller may delete the stored role name:
// deleting a stored role that shadows a built-in one brings the built-in
// definition back, so the caller must hold that one. Config roles shadow
// stored ones, so deleting under them changes nothing.
func (pol *Policy) CheckDelete(caller *Principal, name string) error {
	if caller == nil || slices.ContainsFunc(pol.config, func(r store.Role) bool { return r.Name == name }) {
		return nil
	}
	for _, r := range BuiltinRoles() {
		if r.Name == name {
			return pol.CheckDefine(caller, r)
		}
	}
	return nil
}

// holds reports (as an error wrapping ErrForbidden) the first permission or
// model the target would reach that caller does not.
func (pol *Policy) holds(roles map[string]*compiledRole, caller *Principal, target *compiledRole, models []string, what string) error {
	mine, ok := roles[caller.Role]
	if !ok {
		return fmt.Errorf("%w: unknown role %q", ErrForbidden, caller.Role)
	}
	for _, res := range Resources {
		for _, act := range Actions {
			if target.permits(res, act) && !mine.permits(res, act) {
				return fmt.Errorf("%w: %s grants %s on %s, which role %q does not hold", ErrForbidden, what, act, res, caller.Role)
			}
		}
	}
	for _, limit := range [][]string{mine.models, caller.Models} {
		if len(limit) == 0 {
			continue
		}
		// The new holder reaches a model only when both the role's list
		// and its own list admit it: one of the two covered is enough.
		if !patternsCovered(target.models, limit) && !patternsCovered(models, limit) {
			return fmt.Errorf("%w: %s with models %v reaches models outside the caller's allow-list %v",
				ErrForbidden, what, models, limit)
		}
	}
	return nil
}

// patternsCovered reports whether every model matched by some pattern in
// sub is matched by a pattern in super. An empty sub means every model.
func patternsCovered(sub, super []string) bool {
	if len(sub) == 0 {
		sub = []string{"*"}
	}
	for _, a := range sub {
		if !slices.ContainsFunc(super, func(b string) bool { return patternCovers(b, a) }) {
			return false
		}
	}
	return true
}

// patternCovers reports whether pattern b matches every name that pattern a
// matches (conservatively: false when unsure).
func patternCovers(b, a string) bool {
	switch {
	case b == "*" || a == b:
		return true
	case a == "*":
		return false
	case !strings.ContainsAny(a, `*?[\`):
		return modelAllowed([]string{b}, a)
	}
	// a is a pattern: covered by "prefix*" when a's literal head extends
	// prefix and nothing after it can cross a '/' that * would not.
	prefix, ok := strings.CutSuffix(b, "*")
	if !ok || strings.ContainsAny(prefix, `*?[\`) {
		return false
	}
	head := a[:strings.IndexAny(a, `*?[\`)]
	return strings.HasPrefix(head, prefix) && !strings.Contains(a[len(prefix):], "/")
}
