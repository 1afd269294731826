package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Issuer is a trusted external identity provider: a company IdP (Keycloak,
// Entra ID, Okta, Google, any OpenID Provider) or a Kubernetes cluster.
// Callers send its JWTs as bearer tokens; the claim mapping decides their
// role, team and models. Issuers are read at start (a change takes a
// restart). See docs/federation.md.
type Issuer struct {
	// Name identifies the issuer: principals are "<name>:<subject>", and
	// SSO links name it (/auth/oidc/login?issuer=<name>). Lower case
	// letters, digits, '-' and '_'.
	Name string `yaml:"name"`
	// Issuer is the exact iss of its tokens. Its keys are found by OpenID
	// discovery at <issuer>/.well-known/openid-configuration unless
	// jwks_url is set. https, or http on a loopback address.
	Issuer string `yaml:"issuer"`
	// JWKSURL is the key set's URL, for issuers without discovery.
	JWKSURL string `yaml:"jwks_url"`
	// Audiences: a token's aud must contain one of them. Required.
	Audiences []string `yaml:"audiences"`
	// Algorithms the issuer may sign with: RS256, RS384, RS512, PS256,
	// PS384, PS512, ES256, ES384, ES512, EdDSA. none and HS* never.
	// Default RS256, PS256, ES256, EdDSA.
	Algorithms []string `yaml:"algorithms"`
	// ClockSkew tolerated on exp, nbf and iat. Default 30s.
	ClockSkew time.Duration `yaml:"clock_skew"`
	// PrincipalClaim names the caller: sub (default), azp, client_id,
	// email or another string claim.
	PrincipalClaim string `yaml:"principal_claim"`
	// Rules map claims to role, team and models; the first that matches
	// decides.
	Rules []IssuerRule `yaml:"rules"`
	// DefaultRole of callers no rule matches; empty refuses them (403).
	DefaultRole string `yaml:"default_role"`
	// DefaultTeam of callers whose rule names no team; empty: no team.
	DefaultTeam string `yaml:"default_team"`
	// Models is the allow-list of callers whose rule names none; empty
	// means the role decides.
	Models []string `yaml:"models"`
	// RefreshInterval: how often the key set is re-fetched. Default 1h.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// UnknownKIDInterval: the least time between key refreshes caused by
	// tokens naming an unknown kid (key rotation). Default 30s.
	UnknownKIDInterval time.Duration `yaml:"unknown_kid_interval"`
	// MaxKeyAge: while the issuer is unreachable, keys fetched up to this
	// long ago keep verifying; after it tokens are refused (503) until a
	// fetch succeeds. Default 24h.
	MaxKeyAge time.Duration `yaml:"max_key_age"`
	// CAFile adds PEM CAs for fetching discovery and keys (a cluster's CA).
	CAFile string `yaml:"ca_file"`
	// TokenFile is sent as a bearer token when fetching discovery and keys,
	// re-read each time (a pod's projected service-account token, for an
	// API server that does not serve its JWKS anonymously).
	TokenFile string `yaml:"token_file"`
	// SSO lets people sign in to the admin API and console through this
	// issuer (OIDC authorization code flow with PKCE).
	SSO IssuerSSO `yaml:"sso"`
}

// IssuerRule maps callers whose token carries Value in Claim.
type IssuerRule struct {
	// Claim is a claim name or a dotted path (realm_access.roles,
	// kubernetes.io.namespace); the value matches a string claim or an
	// element of a list claim.
	Claim string `yaml:"claim"`
	// Value the claim must hold.
	Value string `yaml:"value"`
	// Role granted.
	Role string `yaml:"role"`
	// Team the caller is limited and charged as; empty: the issuer's
	// default_team.
	Team string `yaml:"team"`
	// Models allowed; empty: the issuer's models.
	Models []string `yaml:"models"`
}

// IssuerSSO is an issuer's OAuth2 client for signing people in. The
// redirect URL registered at the IdP is <auth.issuer>/auth/oidc/callback.
type IssuerSSO struct {
	// ClientID at the IdP; empty turns SSO off for this issuer.
	ClientID string `yaml:"client_id"`
	// ClientSecret at the IdP (a reference such as ${OIDC_SECRET}); empty
	// for a public client (PKCE only).
	ClientSecret Secret `yaml:"client_secret"`
	// Scopes requested besides openid. Default profile, email.
	Scopes []string `yaml:"scopes"`
}

var issuerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

// safeAlgorithms mirrors federation.SafeAlgorithms (config imports no
// feature package).
var safeAlgorithms = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

func (c *Config) validateIssuers(add func(path, format string, args ...any)) {
	names, urls := map[string]bool{}, map[string]bool{}
	for i, is := range c.Auth.Issuers {
		at := fmt.Sprintf("auth.issuers[%d]", i)
		if !issuerName.MatchString(is.Name) || names[is.Name] {
			add(at+".name", "must be unique lower-case letters, digits, '-' or '_', got %q", is.Name)
		}
		names[is.Name] = true
		if err := issuerURL(is.Issuer); err != nil || urls[is.Issuer] {
			add(at+".issuer", "must be a unique https URL (http only on loopback): %q", is.Issuer)
		}
		urls[is.Issuer] = true
		if is.Issuer != "" && strings.TrimRight(is.Issuer, "/") == strings.TrimRight(c.Auth.Issuer, "/") {
			add(at+".issuer", "is dsgate's own auth.issuer")
		}
		if is.JWKSURL != "" && issuerURL(is.JWKSURL) != nil {
			add(at+".jwks_url", "must be an https URL (http only on loopback)")
		}
		if len(is.Audiences) == 0 || slices.Contains(is.Audiences, "") {
			add(at+".audiences", "at least one, none empty")
		}
		for _, a := range is.Algorithms {
			if !slices.Contains(safeAlgorithms, a) {
				add(at+".algorithms", "%q is not allowed: only asymmetric algorithms (none and HS* never)", a)
			}
		}
		if is.ClockSkew < 0 || is.RefreshInterval < 0 || is.UnknownKIDInterval < 0 || is.MaxKeyAge < 0 {
			add(at, "durations must not be negative")
		}
		if orDefault(is.MaxKeyAge, 24*time.Hour) < orDefault(is.RefreshInterval, time.Hour) {
			add(at+".max_key_age", "must be at least refresh_interval (default 1h)")
		}
		for j, r := range is.Rules {
			if r.Claim == "" || r.Value == "" || r.Role == "" {
				add(fmt.Sprintf("%s.rules[%d]", at, j), "needs claim, value and role")
			}
		}
	}
}

// issuerURL accepts https URLs, and http ones on loopback addresses.
func issuerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return fmt.Errorf("not an absolute URL")
	}
	if u.Scheme == "https" {
		return nil
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); u.Scheme == "http" && (host == "localhost" || ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("not https")
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}
