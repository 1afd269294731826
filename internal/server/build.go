package server

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/pipeline"
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
				targets = append(targets, &upstream.Target{Upstream: u, Model: tc.Model, Weight: tc.Weight, Priority: tc.Priority,
					FIMFamily: tc.FIM})
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
			Name: mc.Name, OwnedBy: mc.OwnedBy, Thinking: mc.Thinking, ReasoningEffort: mc.ReasoningEffort, Pool: pool,
			Fallbacks: mc.Fallbacks, FallbackResponse: mc.FallbackResponse,
			Cache: gateway.RouteCache{Disabled: mc.Cache.Disabled, Shared: cfg.Cache.Shared, Version: mc.Cache.Version,
				Policy: cache.Policy{AllowSampled: mc.Cache.AllowSampled}},
		})
	}
	if len(routes) == 0 {
		gen.abort()
		return nil, errors.New("no model has an enabled upstream")
	}
	prices, err := cfg.Pricing.Book()
	if err != nil {
		gen.close(0)
		return nil, fmt.Errorf("pricing: %w", err)
	}
	rc := cfg.Routing
	gen.gateway = gateway.New(gateway.Options{
		Routes:        routes,
		Prices:        prices,
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
	c.metrics.SetNames(routeNames(routes), slices.Collect(maps.Keys(ups))) // labels carry configured names only
	if err := c.installCosting(cfg, log, gen.gateway); err != nil {
		gen.close(0)
		return nil, err
	}
	gen.start()
	return gen, nil
}

func routeNames(routes []gateway.Route) []string {
	names := make([]string, len(routes))
	for i, r := range routes {
		names[i] = r.Name
	}
	return names
}

func upstreamOptions(uc config.Upstream, kind, url string, log *slog.Logger) upstream.Options {
	hc, bc := uc.HealthCheck, uc.Breaker
	return upstream.Options{
		Name:              uc.Name,
		Kind:              kind,
		URL:               url,
		APIKey:            uc.APIKey.Value(),
		ReasoningField:    uc.ReasoningField,
		ThinkingSwitch:    uc.ThinkingSwitch,
		MaxConcurrency:    uc.MaxConcurrency,
		ConnectTimeout:    uc.ConnectTimeout,
		NetHTTPClient:     uc.NetHTTPClient,
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
		MetricsPath:         uc.MetricsPath,
		MetricsInterval:     uc.MetricsInterval,
		BalancePollInterval: uc.BalanceInterval(),
		RetryOn:             retryOn(uc.RetryOn),
		Logger:              log,
	}
}

// retryOn is an upstream's retry_on policy; nil keeps the default.
// Validation already refused bad entries.
func retryOn(tokens []string) *upstream.RetryPolicy {
	if len(tokens) == 0 {
		return nil
	}
	p, _ := upstream.ParseRetryOn(tokens)
	return &p
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

// newPipeline builds the one request pipeline that the HTTP API, the gRPC
// API, POST /v1/batch and the Batch API share: the current gateway, the
// process's access control, and the recorder of metrics and audit
// records (batch items are recorded by the pipeline itself).
func (c *core) newPipeline(cfg *config.Config, gw func() *gateway.Gateway, log *slog.Logger) *pipeline.Pipeline {
	return pipeline.New(pipeline.Options{
		Backend:           func() pipeline.Backend { return gw() },
		Access:            c.access,
		HighPriorityRoles: cfg.Auth.HighPriorityRoles,
		Recorder:          pipeline.Recorder{Metrics: c.metrics, Audit: c.auditor(), AuditBodies: c.auditBodies, Series: c.seriesObserver()},
		Logger:            log,
	})
}
