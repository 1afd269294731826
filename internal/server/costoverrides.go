package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/store"
)

// costState applies the runtime cost overrides (prices and budgets
// written through the admin API and kept in the store) on top of the
// configuration in force, without a restart or a reload.
type costState struct {
	mu   sync.Mutex // serialises applying overrides with reloads
	cfg  *config.Config
	log  *slog.Logger
	over admin.CostOverrides
	// fingerprint of over, to apply a refresh only when it changed.
	fingerprint string
	// gw is the gateway built last (current, or about to be): it and the
	// current one are given the merged price book.
	gw *gateway.Gateway
}

// mergedPricing is p with the overrides: an override replaces the entry
// of the same model, upstream and effective_from, or adds one.
func mergedPricing(p config.Pricing, over []pricing.ModelPrice) config.Pricing {
	if len(over) == 0 {
		return p
	}
	names := map[string]bool{}
	for _, m := range over {
		names[admin.PriceName(m)] = true
	}
	models := make([]pricing.ModelPrice, 0, len(p.Models)+len(over))
	for _, m := range p.Models {
		if !names[admin.PriceName(m)] {
			models = append(models, m)
		}
	}
	p.Models = append(models, over...)
	return p
}

// mergedBudgets is b with the overrides: an override replaces the rule
// of the same subject, period and currency, or adds one.
func mergedBudgets(b config.Budgets, over []admin.BudgetEntry) config.Budgets {
	if len(over) == 0 {
		return b
	}
	names := map[string]bool{}
	for _, e := range over {
		names[e.Name()] = true
	}
	rules := make([]config.BudgetRule, 0, len(b.Rules)+len(over))
	for _, r := range b.Rules {
		if !names[r.Subject+"/"+r.Period+"/"+r.Currency] {
			rules = append(rules, r)
		}
	}
	for _, e := range over {
		rules = append(rules, config.BudgetRule{Subject: e.Subject, Period: e.Period, Amount: e.Amount, Currency: e.Currency, Soft: e.Soft})
	}
	b.Rules = rules
	return b
}

// validateCostOverrides checks next against the configuration in force:
// the merged price book compiles, its upstreams exist, the merged budgets
// are valid.
func (c *core) validateCostOverrides(next admin.CostOverrides) error {
	c.cost.mu.Lock()
	cfg := c.cost.cfg
	c.cost.mu.Unlock()
	if cfg == nil {
		return fmt.Errorf("no configuration yet")
	}
	for _, m := range next.Prices {
		if m.Upstream != "" && !slices.ContainsFunc(cfg.Upstreams, func(u config.Upstream) bool { return u.Name == m.Upstream }) {
			return fmt.Errorf("price of %s: upstream %q is not configured", m.Model, m.Upstream)
		}
	}
	if _, err := mergedPricing(cfg.Pricing, next.Prices).Book(); err != nil {
		return err
	}
	_, err := mergedBudgets(cfg.Budgets, next.Budgets).Compile()
	return err
}

// loadCostOverrides reads the stored overrides; ok is false when the
// store has none to offer (no SQL store).
func (c *core) loadCostOverrides(ctx context.Context) (admin.CostOverrides, bool, error) {
	cs, ok := c.store.(store.CostOverrideStore)
	if !ok {
		return admin.CostOverrides{}, false, nil
	}
	over, err := admin.LoadCostOverrides(ctx, cs)
	return over, true, err
}

func fingerprint(o admin.CostOverrides) string {
	var b strings.Builder
	for _, m := range o.Prices {
		fmt.Fprintf(&b, "%+v\n", m)
	}
	for _, e := range o.Budgets {
		fmt.Fprintf(&b, "%+v\n", e)
	}
	return b.String()
}

// refreshCostOverrides rereads the overrides and applies them when they
// changed (always when force, after a write through this replica).
func (c *core) refreshCostOverrides(ctx context.Context, force bool) error {
	over, ok, err := c.loadCostOverrides(ctx)
	if !ok || err != nil {
		return err
	}
	c.cost.mu.Lock()
	defer c.cost.mu.Unlock()
	fp := fingerprint(over)
	if !force && fp == c.cost.fingerprint {
		return nil
	}
	c.cost.over, c.cost.fingerprint = over, fp
	if c.cost.cfg == nil {
		return nil // applied by the first build
	}
	return c.applyCostLocked(true)
}

// applyCostLocked installs the price book and budgets of c.cost.cfg
// merged with c.cost.over. Overrides that no longer fit the
// configuration (a reload removed their upstream, say) are logged and
// left out rather than failing the build. The book goes to the gateway
// built last and, when toCurrent, to the one in force (a reload that is
// still building leaves the old gateway its own prices).
func (c *core) applyCostLocked(toCurrent bool) error {
	cfg, log := c.cost.cfg, c.cost.log
	book, err := mergedPricing(cfg.Pricing, c.cost.over.Prices).Book()
	if err != nil {
		log.Warn("price overrides left out: they do not fit the configuration", "err", err)
		if book, err = cfg.Pricing.Book(); err != nil {
			return fmt.Errorf("pricing: %w", err)
		}
	}
	gws := []*gateway.Gateway{c.cost.gw}
	if toCurrent {
		gws = append(gws, c.currentGateway())
	}
	for _, g := range gws {
		if g != nil {
			g.SetPrices(book)
		}
	}
	o, err := mergedBudgets(cfg.Budgets, c.cost.over.Budgets).Compile()
	if err != nil {
		log.Warn("budget overrides left out: they do not fit the configuration", "err", err)
		if o, err = cfg.Budgets.Compile(); err != nil {
			return err
		}
	}
	return c.installBudgets(cfg, o)
}

// currentGateway is the gateway in force, nil before the first.
func (c *core) currentGateway() *gateway.Gateway {
	if c.current == nil {
		return nil
	}
	return c.current()
}
