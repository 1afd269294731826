package server

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/auth/federation"
	"github.com/dsgate/dsgate/internal/config"
)

// buildFederation builds the trusted external issuers of auth.issuers; nil
// (no external tokens) when there are none. Mapped roles are checked
// against the policy in force, so they follow reloads.
func (c *core) buildFederation(ac config.Auth, log *slog.Logger) (auth.ExternalVerifier, error) {
	issuers := ac.Issuers
	if len(issuers) == 0 {
		return nil, nil
	}
	opts, err := IssuerOptions(issuers, ac.KeyCacheTTL, log)
	if err != nil {
		return nil, err
	}
	for i := range opts {
		opts[i].HasRole = func(role string) bool { return c.policy.Load().HasRole(role) }
	}
	f, err := federation.New(opts)
	if err != nil {
		return nil, err
	}
	c.life.addCloser("external issuers", f.Close)
	c.federation = f
	return f, nil
}

// IssuerOptions maps auth.issuers to federation options. A verified
// token is reused for cacheTTL (auth.key_cache_ttl), as API keys are.
func IssuerOptions(issuers []config.Issuer, cacheTTL time.Duration, log *slog.Logger) ([]federation.IssuerOptions, error) {
	out := make([]federation.IssuerOptions, 0, len(issuers))
	for _, is := range issuers {
		client, err := federation.NewHTTPClient(is.CAFile, is.TokenFile)
		if err != nil {
			return nil, fmt.Errorf("auth.issuers %s: %w", is.Name, err)
		}
		rules := make([]federation.Rule, 0, len(is.Rules))
		for _, r := range is.Rules {
			rules = append(rules, federation.Rule{Claim: r.Claim, Value: r.Value, Role: r.Role, Team: r.Team, Models: r.Models})
		}
		out = append(out, federation.IssuerOptions{
			Name: is.Name, Issuer: is.Issuer, JWKSURL: is.JWKSURL, Audiences: is.Audiences,
			Algorithms: is.Algorithms, ClockSkew: is.ClockSkew,
			Mapping: federation.Mapping{PrincipalClaim: is.PrincipalClaim, Rules: rules,
				DefaultRole: is.DefaultRole, DefaultTeam: is.DefaultTeam, Models: is.Models},
			RefreshInterval: is.RefreshInterval, UnknownKIDInterval: is.UnknownKIDInterval,
			MaxKeyAge: is.MaxKeyAge, CacheTTL: cacheTTL, HTTPClient: client, Logger: log,
		})
	}
	return out, nil
}
