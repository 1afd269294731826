package metrics

import "github.com/prometheus/client_golang/prometheus"

// Cost metric names.
const (
	NameCost               = "dsgate_cost_total"
	NameCostSaved          = "dsgate_cost_saved_total"
	NamePrincipalCost      = "dsgate_principal_cost_total"
	NamePrincipalCostSaved = "dsgate_principal_cost_saved_total"
	NameTeamCost           = "dsgate_team_cost_total"
	NameTeamCostSaved      = "dsgate_team_cost_saved_total"
	NameBudgetSpentRatio   = "dsgate_budget_spent_ratio"
	NameBudgetExhausted    = "dsgate_budget_exhausted_total"
)

// costCollectors are the cost counters; see registerCost.
type costCollectors struct {
	Cost      *prometheus.CounterVec // model, currency
	CostSaved *prometheus.CounterVec // model, currency
	// PrincipalCost and PrincipalCostSaved are nil unless
	// Options.PrincipalLabel.
	PrincipalCost      *prometheus.CounterVec // principal, currency
	PrincipalCostSaved *prometheus.CounterVec // principal, currency
	// TeamCost and TeamCostSaved are by team: teams are made by admins
	// (a handful), so the label is bounded like the budget label.
	TeamCost      *prometheus.CounterVec // team, currency
	TeamCostSaved *prometheus.CounterVec // team, currency

	// BudgetSpentRatio is each configured budget's spend (committed and
	// reserved) in its current period over its amount; BudgetExhausted
	// counts requests it refused. The budget label is the rule's name,
	// "team:research/month/USD": bounded by the configuration.
	BudgetSpentRatio *prometheus.GaugeVec   // budget
	BudgetExhausted  *prometheus.CounterVec // budget
}

// registerCost adds the cost counters to m's collectors.
func (m *Metrics) registerCost(opts Options) {
	m.Cost = counterVec(m, NameCost,
		"What requests cost, in units of currency, by public model and currency (upstream spend, or a local engine's configured internal price).",
		"model", "currency")
	m.CostSaved = counterVec(m, NameCostSaved,
		"What caches saved, in units of currency: the upstream's prefix cache (cache-hit tokens at the cache-miss price) and dsgate's response cache (the whole cost of the answer replayed).",
		"model", "currency")
	m.TeamCost = counterVec(m, NameTeamCost,
		"What requests of each team's members cost, in units of currency; members of no team are not counted here.",
		"team", "currency")
	m.TeamCostSaved = counterVec(m, NameTeamCostSaved,
		"What caches saved each team, in units of currency.", "team", "currency")
	m.BudgetSpentRatio = gaugeVec(m, NameBudgetSpentRatio,
		"Spend of each budget in its current period (settled plus in-flight reservations) as a fraction of its amount.", "budget")
	m.BudgetExhausted = counterVec(m, NameBudgetExhausted,
		"Requests refused because a budget was exhausted, by budget.", "budget")
	if opts.PrincipalLabel {
		m.PrincipalCost = counterVec(m, NamePrincipalCost,
			"What requests cost by principal and currency (opt-in).", "principal", "currency")
		m.PrincipalCostSaved = counterVec(m, NamePrincipalCostSaved,
			"What caches saved by principal and currency (opt-in).", "principal", "currency")
	}
}

// costNames are the names registerCost can export.
func costNames() []string {
	return []string{NameCost, NameCostSaved, NamePrincipalCost, NamePrincipalCostSaved, NameTeamCost, NameTeamCostSaved, NameBudgetSpentRatio, NameBudgetExhausted}
}

// AddCost adds one request's cost and savings, in units of currency (the
// counters are float64: never add them back into money; the usage store
// and the audit trail hold the exact nano-unit figures). Zero adds nothing.
func (m *Metrics) AddCost(model, principal, currency string, cost, saved float64) {
	if m == nil || currency == "" {
		return
	}
	model, currency = m.Model(model), Label(currency)
	if cost > 0 {
		counter2(&m.hot.cost, m.Cost, model, currency).Add(cost)
	}
	if saved > 0 {
		counter2(&m.hot.costSaved, m.CostSaved, model, currency).Add(saved)
	}
	if m.PrincipalCost == nil || principal == "" {
		return
	}
	principal = Label(principal)
	if cost > 0 {
		counter2(&m.hot.principalCost, m.PrincipalCost, principal, currency).Add(cost)
	}
	if saved > 0 {
		counter2(&m.hot.principalSaved, m.PrincipalCostSaved, principal, currency).Add(saved)
	}
}

// BudgetObserver feeds the budget metrics; it implements budget.Observer.
type BudgetObserver struct{ M *Metrics }

// Spent sets the budget's spent ratio.
func (o BudgetObserver) Spent(rule string, ratio float64) {
	if o.M != nil {
		o.M.BudgetSpentRatio.WithLabelValues(Label(rule)).Set(ratio)
	}
}

// Exhausted counts a refusal.
func (o BudgetObserver) Exhausted(rule string) {
	if o.M != nil {
		o.M.BudgetExhausted.WithLabelValues(Label(rule)).Inc()
	}
}

// AddTeamCost adds one request's cost and savings to its team's
// counters; nothing for a principal in no team.
func (m *Metrics) AddTeamCost(team, currency string, cost, saved float64) {
	if m == nil || team == "" || currency == "" {
		return
	}
	team, currency = Label(team), Label(currency)
	if cost > 0 {
		m.TeamCost.WithLabelValues(team, currency).Add(cost)
	}
	if saved > 0 {
		m.TeamCostSaved.WithLabelValues(team, currency).Add(saved)
	}
}
