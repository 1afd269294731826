package access

import "github.com/dsgate/dsgate/internal/pricing"

// SetCost gives the grant the request's cost, priced at settlement, for
// the usage record Done writes. Call it before Done; without it the usage
// is recorded without a cost.
func (g *Grant) SetCost(c pricing.Cost) { g.cost, g.priced = c, true }
