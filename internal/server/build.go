package server

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/upstream"
)

// generation is everything built from one config: replaced whole on
// reload, except the upstreams whose definition did not change, which the
// next generation carries on (see upstreams.go).
type generation struct {
	cfg       *config.Config
	gateway   *gateway.Gateway
	upstreams []*runningUpstream
	// fresh are the upstreams this generation started itself.
	fresh []*runningUpstream
}

// build maps a config to components. Upstreams of prev (nil at start)
// whose definition is unchanged are reused with their state.
func build(cfg *config.Config, log *slog.Logger, c *core, prev *generation) (*generation, error) {
	gen := &generation{cfg: cfg}
	ups := map[string]*upstream.Upstream{}
	for _, uc := range cfg.Upstreams {
		if !uc.Enabled() {
			log.Info("upstream disabled: its api_key reference is empty", "upstream", uc.Name)
			continue
		}
		r, err := gen.upstream(uc, prev, log)
		if err != nil {
			gen.abort()
			return nil, err
		}
		ups[uc.Name] = r.u
	}
	var routes []gateway.Route
	for _, mc := range cfg.Models {
		var targets []*upstream.Target
		for _, tc := range mc.Targets {
			if u, ok := ups[tc.Upstream]; ok {
				targets = append(targets, &upstream.Target{Upstream: u, Model: tc.Model, Weight: tc.Weight, Priority: tc.Priority})
			}
		}
		if len(targets) == 0 {
			log.Warn("model has no enabled target; it is not served", "model", mc.Name)
			continue
		}
		pool, err := newPool(mc, targets)
		if err != nil {
			gen.abort()
			return nil, fmt.Errorf("model %s: %w", mc.Name, err)
		}
		routes = append(routes, gateway.Route{
			Name: mc.Name, OwnedBy: mc.OwnedBy, Thinking: mc.Thinking, Pool: pool,
			Fallbacks: mc.Fallbacks, FallbackResponse: mc.FallbackResponse,
			Cache: gateway.RouteCache{Disabled: mc.Cache.Disabled, Shared: cfg.Cache.Shared, Version: mc.Cache.Version,
				Policy: cache.Policy{AllowSampled: mc.Cache.AllowSampled}},
		})
	}
	if len(routes) == 0 {
		gen.abort()
		return nil, errors.New("no model has an enabled upstream")
	}
	rc := cfg.Routing
	gen.gateway = gateway.New(gateway.Options{
		Routes:        routes,
		MaxAttempts:   rc.MaxAttempts,
		RetryBudget:   gateway.NewRetryBudget(rc.RetryBudget, rc.RetryMinPerSecond, nil),
		RetryBackoff:  rc.RetryBackoff,
		MaxRetryWait:  rc.MaxRetryWait,
		Logger:        log,
		Observer:      c.observer(),
		Tracer:        c.tracer,
		Cache:         c.gatewayCache(),
		CacheObserver: c.cacheObserver(),
	})
	gen.start()
	return gen, nil
}

func upstreamOptions(uc config.Upstream, kind, url string, log *slog.Logger) upstream.Options {
	hc, bc := uc.HealthCheck, uc.Breaker
	return upstream.Options{
		Name:              uc.Name,
		Kind:              kind,
		URL:               url,
		APIKey:            uc.APIKey.Value(),
		ReasoningField:    uc.ReasoningField,
		MaxConcurrency:    uc.MaxConcurrency,
		ConnectTimeout:    uc.ConnectTimeout,
		FirstTokenTimeout: uc.FirstTokenTimeout,
		IdleTimeout:       uc.IdleTimeout,
		Health: upstream.HealthCheck{
			Path: hc.Path, Interval: hc.Interval, Timeout: hc.Timeout,
			HealthyThreshold: hc.HealthyThreshold, UnhealthyThreshold: hc.UnhealthyThreshold,
		},
		Breaker: upstream.BreakerOptions{
			FailureThreshold: bc.FailureThreshold, RecoveryTimeout: bc.RecoveryTimeout, MaxRecovery: bc.MaxRecovery,
			HalfOpenRequests: bc.HalfOpenRequests, ErrorRatio: bc.ErrorRatio, Window: bc.Window, MinRequests: bc.MinRequests,
		},
		MetricsPath:     uc.MetricsPath,
		MetricsInterval: uc.MetricsInterval,
		Logger:          log,
	}
}

// newPool builds a model's pool with its policy and routing rules.
func newPool(mc config.Model, targets []*upstream.Target) (*upstream.Pool, error) {
	sel, err := upstream.NewSelector(mc.Policy)
	if err != nil {
		return nil, err
	}
	rules := upstream.DefaultRules()
	if mc.Rules != nil {
		rules = rules[:0]
		for _, rc := range *mc.Rules {
			rs, err := upstream.NewSelector(rc.Policy)
			if err != nil {
				return nil, err
			}
			rules = append(rules, upstream.Rule{HighPriority: rc.HighPriority, MinMaxTokens: rc.MinMaxTokens,
				MinPromptChars: rc.MinPromptChars, Selector: rs})
		}
	}
	return upstream.NewPool(targets, sel, rules), nil
}
