package access

import (
	"sync"
	"sync/atomic"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/budget"
	"github.com/dsgate/dsgate/internal/pricing"
)

// SetCost gives the grant the request's cost, priced at settlement, for
// the usage record Done writes. Call it before Done; without it the usage
// is recorded without a cost.
func (g *Grant) SetCost(c pricing.Cost) { g.cost, g.priced = c, true }

// Costing is the money side of access control: the budgets in force and
// the teams principals belong to. A configuration (re)load installs a new
// one with SetCosting; every transport's pipeline reads it through the one
// Access they share.
type Costing struct {
	// Budgets are the budgets in force; nil: none.
	Budgets *budget.Budgets
	// FailOpen admits requests without a reservation when the budget
	// backend fails (rate_limit.fail_open); otherwise they are refused
	// with 503.
	FailOpen bool
	// Team, when set, overrides the teams snapshot (SetTeams): the team
	// of a principal, "" for none. For tests.
	Team func(p *auth.Principal) string
}

// costing is Access's share of cost accounting.
type costing struct {
	current     atomic.Pointer[Costing]
	backendOnce sync.Once
	backend     budget.Backend
	teams       atomic.Pointer[Teams]
}

// SetCosting installs c (nil removes budgets and teams).
func (a *Access) SetCosting(c *Costing) { a.current.Store(c) }

// Costing returns the budgets and teams in force; never nil.
func (a *Access) Costing() *Costing {
	if c := a.current.Load(); c != nil {
		return c
	}
	return &noCosting
}

var noCosting Costing

// TeamOf is the team p belongs to, "" for none. Never inlined: the team
// it looks up would be room in the caller's frame, and Pipeline.Run stays
// on a stream's stack for as long as the stream lasts (issue 22).
//
//go:noinline
func (a *Access) TeamOf(p *auth.Principal) string {
	t, _ := a.team(p)
	return t.Name
}

// BudgetBackend returns the process's budget backend, made by mk the
// first time: spend counted in memory must outlive configuration reloads,
// so the backend is kept here, not in the reloaded configuration (a
// change of budgets.backend takes a restart).
func (a *Access) BudgetBackend(mk func() budget.Backend) budget.Backend {
	a.backendOnce.Do(func() { a.backend = mk() })
	return a.backend
}
