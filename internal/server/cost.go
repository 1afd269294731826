package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/budget"
	bredis "github.com/dsgate/dsgate/internal/budget/redis"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/upstream"
)

// installCosting builds the configuration's budgets and price book,
// merged with the runtime overrides, and installs them (the book in gw),
// with the teams lookup, in the process's access control, which every
// transport's pipeline shares. The spend counters (the backend) are made
// once per process, so a reload keeps what was spent.
func (c *core) installCosting(cfg *config.Config, log *slog.Logger, gw *gateway.Gateway) error {
	if err := c.startTeams(cfg, log); err != nil {
		return err
	}
	c.cost.mu.Lock()
	defer c.cost.mu.Unlock()
	c.cost.cfg, c.cost.log, c.cost.gw = cfg, log, gw
	return c.applyCostLocked(false)
}

// installBudgets installs the budgets o (compiled from cfg's section and
// the overrides) in the access control.
func (c *core) installBudgets(cfg *config.Config, o budget.Options) error {
	if len(o.Rules) == 0 {
		c.access.SetCosting(nil)
		c.resetBudgetGauge(nil)
		return nil
	}
	backend := c.access.BudgetBackend(func() budget.Backend {
		if cfg.BudgetBackend() == "redis" && c.redis != nil {
			return bredis.New(c.redis, bredis.Options{})
		}
		return budget.NewMemory()
	})
	o.Backend, o.Observer = backend, metrics.BudgetObserver{M: c.metrics}
	bs, err := budget.New(o)
	if err != nil {
		return fmt.Errorf("budgets: %w", err)
	}
	c.access.SetCosting(&access.Costing{Budgets: bs, FailOpen: cfg.RateLimit.FailOpen})
	c.resetBudgetGauge(bs)
	return nil
}

// resetBudgetGauge drops the spent ratio of budgets that are gone (a
// deleted override, a reload) so that no alert fires on them, and sets
// those of bs at once.
func (c *core) resetBudgetGauge(bs *budget.Budgets) {
	if c.metrics == nil {
		return
	}
	c.metrics.BudgetSpentRatio.Reset()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := bs.Observe(ctx, time.Now()); err != nil && c.cost.log != nil {
		c.cost.log.Warn("reading budget spend", "err", err)
	}
}

// teamsRefresh is how often a replica rereads teams and memberships
// (changes made through this replica's admin API apply at once).
const teamsRefresh = 10 * time.Second

// startTeams, once per process (the first build), loads the teams into
// the access control, keeps them fresh, and mounts /admin/teams and
// /admin/usage/report. It needs the store (auth enabled).
func (c *core) startTeams(cfg *config.Config, log *slog.Logger) error {
	ts, ok := c.store.(store.TeamStore)
	if !ok || c.access == nil {
		return nil
	}
	if _, done := c.mounts["/admin/teams"]; done {
		return nil
	}
	reload := func(ctx context.Context) error {
		t, err := access.LoadTeams(ctx, ts)
		if err != nil {
			return err
		}
		c.access.SetTeams(t)
		return nil
	}
	if err := reload(context.Background()); err != nil {
		return fmt.Errorf("loading teams: %w", err)
	}
	if err := c.refreshCostOverrides(context.Background(), true); err != nil {
		log.Warn("loading cost overrides", "err", err) // the configuration alone applies
	}
	c.life.addTask("teams refresh", func(ctx context.Context) error {
		tk := time.NewTicker(teamsRefresh)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-tk.C:
				if err := reload(ctx); err != nil && ctx.Err() == nil {
					log.Warn("reloading teams", "err", err)
				}
				if err := c.refreshCostOverrides(ctx, false); err != nil && ctx.Err() == nil {
					log.Warn("refreshing cost overrides", "err", err)
				}
			}
		}
	})
	loc := time.UTC
	if tz := cfg.Budgets.TimeZone; tz != "" {
		if l, err := time.LoadLocation(tz); err == nil {
			loc = l
		}
	}
	h, err := admin.NewCost(admin.CostOptions{Teams: ts, Usage: c.store, TeamsChanged: reload, Location: loc, Logger: log,
		Budgets:  func() *budget.Budgets { return c.access.Costing().Budgets },
		Balances: c.accountBalances,
		Overrides: admin.OverrideOptions{Store: costOverrideStore(c.store), Validate: c.validateCostOverrides,
			Changed: func(ctx context.Context) error { return c.refreshCostOverrides(ctx, true) }},
		Authorize: func(r *http.Request, resource, action string) (*auth.Principal, error) {
			p, err := c.access.AuthenticateHTTP(r)
			if err != nil {
				return nil, err
			}
			return p, c.access.Authorize(p, resource, action, "")
		}})
	if err != nil {
		return err
	}
	for _, p := range []string{"/admin/teams", "/admin/teams/", "/admin/usage/report", "/admin/budgets", "/admin/budgets/", "/admin/balance", "/admin/prices", "/admin/prices/"} {
		c.mounts[p] = h
	}
	return nil
}

// budgetGaugeRefresh is how often dsgate_budget_spent_ratio is reread
// from the budget backend: a budget's ratio falls back to its new
// period's figure within this time of the rollover, and other replicas'
// spend shows on this one.
const budgetGaugeRefresh = 30 * time.Second

// startBudgetGauge keeps dsgate_budget_spent_ratio current between
// requests, for whatever budgets are in force (a reload may add or
// replace them). Without it a ratio is only set at admission and stays at
// its last value after the period rolls over.
func (c *core) startBudgetGauge(log *slog.Logger) {
	if c.metrics == nil || c.access == nil {
		return
	}
	c.life.addTask("budget gauge", func(ctx context.Context) error {
		tk := time.NewTicker(budgetGaugeRefresh)
		defer tk.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-tk.C:
				if err := c.access.Costing().Budgets.Observe(ctx, now); err != nil && ctx.Err() == nil {
					log.Warn("refreshing budget gauges", "err", err)
				}
			}
		}
	})
}

// accountBalances is the balances the current gateway's deepseek
// upstreams last polled, for GET /admin/balance.
func (c *core) accountBalances() []admin.AccountBalance {
	if c.current == nil || c.current() == nil {
		return nil
	}
	var out []admin.AccountBalance
	for _, s := range c.current().Upstreams() {
		if s.Kind != upstream.KindDeepSeek || s.Balance == nil {
			continue
		}
		for _, bi := range s.Balance.Infos {
			out = append(out, admin.AccountBalance{Upstream: s.Name, Currency: bi.Currency, Total: float64(bi.Total),
				Available: s.Balance.Available, CheckedAt: s.Balance.CheckedAt})
		}
	}
	return out
}

// costOverrideStore is st's CostOverrideStore, nil when it has none.
func costOverrideStore(st store.Store) store.CostOverrideStore {
	cs, _ := st.(store.CostOverrideStore)
	return cs
}
