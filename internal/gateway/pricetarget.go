package gateway

import (
	"slices"

	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/upstream"
)

// Prices is the price book in force: the configuration's, or the last
// SetPrices; nil when cost accounting is off.
func (g *Gateway) Prices() *pricing.Book {
	if p := g.prices.Load(); p != nil {
		return *p
	}
	return g.opts.Prices
}

// SetPrices replaces the price book (runtime price overrides) without a
// reload; a request keeps the book it started with.
func (g *Gateway) SetPrices(b *pricing.Book) { g.prices.Store(&b) }

// Target names where a public model is normally served, for pricing a
// request before (or without) an upstream answering it: the budget
// estimate at admission, and the savings of a cache hit.
type Target struct {
	Upstream, UpstreamModel, UpstreamKind string
	// Model is the public model the target serves: the one asked for, or
	// a fallback model (Targets).
	Model string
}

// PrimaryTarget is the first target of model's route in priority order
// (the one a healthy pool tries first). ok is false for an unknown model.
// It does not allocate.
func (g *Gateway) PrimaryTarget(model string) (Target, bool) {
	r, ok := g.routes[model]
	if !ok {
		return Target{}, false
	}
	return r.primary, r.hasPrimary
}

// Targets lists every target that may answer model: its route's, tier by
// tier, then its fallback models' (each model once). A budget reserves at
// the dearest of them: a model whose first target is free (a local
// engine) may still be answered by a priced one. The list is made once,
// when the gateway is built, and shared: callers must not modify it.
func (g *Gateway) Targets(model string) []Target {
	if r, ok := g.routes[model]; ok {
		return r.targets
	}
	return nil
}

// allTargets computes Route.targets.
func (g *Gateway) allTargets(model string) []Target {
	var out []Target
	var seen []string
	var add func(m string)
	add = func(m string) {
		r, ok := g.routes[m]
		if !ok || slices.Contains(seen, m) {
			return
		}
		seen = append(seen, m)
		if r.Pool != nil {
			for _, t := range r.Pool.Targets() {
				name, _ := upstreamModel(t)
				out = append(out, Target{Upstream: t.Upstream.Name(), UpstreamModel: name, UpstreamKind: t.Upstream.Kind(), Model: m})
			}
		}
		for _, f := range r.Fallbacks {
			add(f)
		}
	}
	add(model)
	return out
}

// primaryTarget computes Route.primary once, when the gateway is built.
func primaryTarget(p *upstream.Pool) (Target, bool) {
	if p == nil {
		return Target{}, false
	}
	targets := p.Targets() // tier by tier: the first is in the first tier
	if len(targets) == 0 {
		return Target{}, false
	}
	t := targets[0]
	name, _ := upstreamModel(t)
	return Target{Upstream: t.Upstream.Name(), UpstreamModel: name, UpstreamKind: t.Upstream.Kind()}, true
}
