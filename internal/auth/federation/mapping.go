package federation

import (
	"fmt"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
)

// Rule maps callers whose token has Value in Claim (equal to a string
// claim, or an element of a list claim) to a role, a team and a model
// allow-list.
type Rule struct {
	// Claim is a claim name or a dotted path into nested objects
	// (realm_access.roles, kubernetes.io.namespace); at each level the
	// longest key that exists wins, so keys containing dots work.
	Claim string
	Value string
	Role  string
	// Team, when set, is the team the caller is limited and charged as.
	Team string
	// Models, when set, replaces the issuer's default allow-list.
	Models []string
}

// Mapping turns verified claims into a principal.
type Mapping struct {
	// PrincipalClaim names the caller: sub (default), azp, client_id,
	// email, or any string claim.
	PrincipalClaim string
	// Rules are tried in order; the first that matches decides.
	Rules []Rule
	// DefaultRole is the role of callers no rule matches; "" refuses them
	// (403).
	DefaultRole string
	// DefaultTeam is the team of callers whose rule names none.
	DefaultTeam string
	// Models is the allow-list of callers whose rule names none; empty
	// means the role decides.
	Models []string
}

// principal maps claims (already verified) of a token from the issuer
// called name. hasRole reports whether a role exists (nil: any).
func (m *Mapping) principal(name string, claims map[string]any, hasRole func(string) bool) (*auth.Principal, error) {
	claim := m.PrincipalClaim
	if claim == "" {
		claim = "sub"
	}
	subject, _ := lookup(claims, claim).(string)
	if subject == "" {
		return nil, unauthenticated(name, "no "+claim+" claim to name the caller")
	}
	role, team, models := m.DefaultRole, m.DefaultTeam, m.Models
	for _, r := range m.Rules {
		if matches(lookup(claims, r.Claim), r.Value) {
			role = r.Role
			if r.Team != "" {
				team = r.Team
			}
			if len(r.Models) > 0 {
				models = r.Models
			}
			break
		}
	}
	if role == "" {
		return nil, forbidden(name, fmt.Sprintf("no claim mapping for %s %q", claim, subject))
	}
	if hasRole != nil && !hasRole(role) {
		return nil, forbidden(name, fmt.Sprintf("mapped role %q does not exist", role))
	}
	p := &auth.Principal{ID: name + ":" + subject, Kind: auth.KindExternal, Name: subject,
		Role: role, Team: team, Models: models}
	p.Issuer, _ = claims["iss"].(string)
	p.TokenID, _ = claims["jti"].(string)
	if exp, ok := claims["exp"].(float64); ok {
		p.ExpiresAt = time.Unix(int64(exp), 0)
	}
	p.Scopes = scopes(claims)
	return p, nil
}

// lookup resolves a dotted claim path; nil when absent.
func lookup(claims map[string]any, path string) any {
	var cur any = claims
	for path != "" {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		key, rest, found := longestKey(obj, path)
		if !found {
			return nil
		}
		cur, path = obj[key], rest
	}
	return cur
}

// longestKey finds the longest dot-separated prefix of path that is a key
// of obj and returns it with the rest of the path.
func longestKey(obj map[string]any, path string) (key, rest string, ok bool) {
	for end := len(path); end > 0; end = strings.LastIndexByte(path[:end], '.') {
		if _, ok := obj[path[:end]]; ok {
			return path[:end], strings.TrimPrefix(path[end:], "."), true
		}
	}
	return "", "", false
}

// matches reports whether v is want or a list holding want.
func matches(v any, want string) bool {
	switch v := v.(type) {
	case string:
		return v == want
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

// scopes reads "scope" (space-separated, RFC 9068) or "scp" (a list, as
// Entra and Okta write it).
func scopes(claims map[string]any) []string {
	if s, ok := claims["scope"].(string); ok {
		return strings.Fields(s)
	}
	var out []string
	if l, ok := claims["scp"].([]any); ok {
		for _, e := range l {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}
