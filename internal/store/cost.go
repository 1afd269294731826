package store

import (
	"context"
	"time"
)

// Kinds of CostOverride.
const (
	OverridePrice  = "price"  // a pricing.models entry
	OverrideBudget = "budget" // a budgets.rules entry
)

// CostOverride is one runtime change to the cost configuration made
// through the admin API: a price book entry or a budget, stored so that
// every replica applies it. The configuration file is the base: an
// override replaces the entry of the same Name there, or adds one.
type CostOverride struct {
	Kind string `json:"kind"`
	// Name identifies the entry within its kind: "model@upstream@from"
	// for a price, "subject/period/currency" for a budget.
	Name string `json:"name"`
	// Body is the entry as JSON, with the config file's keys.
	Body      string    `json:"body"`
	UpdatedBy string    `json:"updated_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CostOverrideStore keeps CostOverrides. Separate from Store so that
// implementations without it keep working; the SQL stores have it.
type CostOverrideStore interface {
	// PutCostOverride creates or replaces an override.
	PutCostOverride(ctx context.Context, o CostOverride) error
	// ListCostOverrides lists the overrides of kind by name.
	ListCostOverrides(ctx context.Context, kind string) ([]CostOverride, error)
	// DeleteCostOverride removes one (ErrNotFound).
	DeleteCostOverride(ctx context.Context, kind, name string) error
}
