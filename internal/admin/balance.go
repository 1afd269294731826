package admin

import (
	"cmp"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/store"
)

// AccountBalance is one upstream account's balance in one currency, as
// the upstream last reported it (DeepSeek's GET /user/balance).
type AccountBalance struct {
	Upstream  string    `json:"upstream"`
	Currency  string    `json:"currency"`
	Total     float64   `json:"total_balance"`
	Available bool      `json:"is_available"`
	CheckedAt time.Time `json:"checked_at"`
}

// BalanceView is the balance beside spend in one currency: what the
// accounts hold, what was spent over the last seven days (the usage
// store), and how many days the balance lasts at that rate.
type BalanceView struct {
	Currency string           `json:"currency"`
	Balance  float64          `json:"total_balance"`
	Accounts []AccountBalance `json:"accounts"`
	// WeekSpent is the spend recorded in the window (all principals and
	// models priced in Currency), WeekSpentNano the exact figure.
	WeekSpent     string  `json:"week_spent"`
	WeekSpentNano int64   `json:"week_spent_nano"`
	DailyRate     float64 `json:"daily_rate"`
	// DaysLeft is Balance / DailyRate; absent when nothing was spent.
	DaysLeft *float64 `json:"days_left,omitempty"`
	// WindowStart is where the window begins (six UTC days before
	// today's); it ends now, so it spans between six and seven days.
	WindowStart time.Time `json:"window_start"`
	WindowDays  float64   `json:"window_days"`
}

// balanceWindowDays is the number of UTC usage days in "this week".
const balanceWindowDays = 7

// balance answers GET /admin/balance.
func (c *costHandler) balance(r *http.Request, _ *auth.Principal) (int, any, error) {
	var accounts []AccountBalance
	if c.o.Balances != nil {
		accounts = c.o.Balances()
	}
	now := c.o.Clock().UTC()
	from := now.Truncate(24*time.Hour).AddDate(0, 0, -(balanceWindowDays - 1))
	rows, err := c.o.Usage.Usage(r.Context(), store.UsageFilter{From: from, To: from.AddDate(0, 0, balanceWindowDays)})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"object": "list", "data": BalanceReport(accounts, rows, from, now)}, nil
}

// BalanceReport puts each currency's account balances beside the spend
// of rows (usage buckets from from to now) and computes the days of
// balance left at that rate. Only currencies some account holds are
// reported.
func BalanceReport(accounts []AccountBalance, rows []store.UsageDelta, from, now time.Time) []BalanceView {
	spent := map[string]int64{}
	for _, d := range rows {
		if d.Currency != "" {
			spent[d.Currency] += d.Cost
		}
	}
	days := max(now.Sub(from).Hours()/24, 1.0/24) // never divide by (almost) zero
	byCur := map[string]*BalanceView{}
	var order []string
	for _, a := range accounts {
		v := byCur[a.Currency]
		if v == nil {
			v = &BalanceView{Currency: a.Currency, Accounts: []AccountBalance{}, WindowStart: from, WindowDays: math.Round(days*1000) / 1000}
			byCur[a.Currency] = v
			order = append(order, a.Currency)
		}
		v.Balance += a.Total
		v.Accounts = append(v.Accounts, a)
	}
	slices.Sort(order)
	out := make([]BalanceView, 0, len(order))
	for _, cur := range order {
		v := byCur[cur]
		v.WeekSpentNano = spent[cur]
		v.WeekSpent = pricing.Amount(v.WeekSpentNano).String()
		v.DailyRate = float64(v.WeekSpentNano) / 1e9 / days
		if v.DailyRate > 0 {
			d := math.Round(v.Balance/v.DailyRate*100) / 100
			v.DaysLeft = &d
		}
		slices.SortFunc(v.Accounts, func(a, b AccountBalance) int { return cmp.Compare(a.Upstream, b.Upstream) })
		out = append(out, *v)
	}
	return out
}
