package server

import (
	"fmt"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/budget"
	bredis "github.com/dsgate/dsgate/internal/budget/redis"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/metrics"
)

// installCosting builds the configuration's budgets and installs them,
// with the teams lookup, in the process's access control, which every
// transport's pipeline shares. The spend counters (the backend) are made
// once per process, so a reload keeps what was spent.
func (c *core) installCosting(cfg *config.Config) error {
	o, err := cfg.Budgets.Compile()
	if err != nil {
		return err
	}
	if len(o.Rules) == 0 {
		c.access.SetCosting(&access.Costing{Team: c.teamOf()})
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
	c.access.SetCosting(&access.Costing{Budgets: bs, Team: c.teamOf()})
	return nil
}

// teamOf is the team lookup; nil until teams exist.
func (c *core) teamOf() func(p *auth.Principal) string { return nil }
