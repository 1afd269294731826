package admin_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

// newCostHandler is the /admin/teams... handler on a SQLite store, with
// the role taken from X-Test-Role as in newHandler.
func newCostHandler(t *testing.T, o admin.CostOptions) (http.Handler, store.Store) {
	t.Helper()
	st := storetest.OpenSQLite(t)
	pol, err := auth.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Teams, o.Usage = st.(store.TeamStore), st
	o.Authorize = func(r *http.Request, resource, action string) (*auth.Principal, error) {
		role := r.Header.Get("X-Test-Role")
		if role == "" {
			return nil, auth.ErrNoCredentials
		}
		p := &auth.Principal{ID: "t", Kind: auth.KindKey, Role: role}
		return p, pol.Allow(p, resource, action, "")
	}
	h, err := admin.NewCost(o)
	if err != nil {
		t.Fatal(err)
	}
	return h, st
}

// GET /admin/balance puts the polled DeepSeek balance beside the last
// seven days' spend of the same currency and says how many days it lasts.
func TestBalanceBesideSpend(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC) // window: Nov 27 00:00 .. now = 6.5 days
	h, st := newCostHandler(t, admin.CostOptions{
		Clock: func() time.Time { return now },
		Balances: func() []admin.AccountBalance {
			return []admin.AccountBalance{
				{Upstream: "cloud", Currency: "CNY", Total: 100, Available: true, CheckedAt: now},
				{Upstream: "cloud-2", Currency: "CNY", Total: 30, Available: true, CheckedAt: now},
				{Upstream: "cloud", Currency: "USD", Total: 5, Available: true, CheckedAt: now},
			}
		},
	})
	day := func(d int) time.Time { return time.Date(2026, 12, d, 0, 0, 0, 0, time.UTC) }
	err := st.AddUsage(context.Background(), []store.UsageDelta{
		{Kind: store.KindKey, PrincipalID: "k1", Model: "deepseek-chat", Day: day(1), Requests: 1, Cost: 20e9, Currency: "CNY"},
		{Kind: store.KindKey, PrincipalID: "k2", Model: "deepseek-chat", Day: day(3), Requests: 1, Cost: 6e9, Currency: "CNY"},
		// Before the window: not this week's spend.
		{Kind: store.KindKey, PrincipalID: "k1", Model: "deepseek-chat", Day: time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), Requests: 1, Cost: 500e9, Currency: "CNY"},
		{Kind: store.KindKey, PrincipalID: "k1", Model: "local", Day: day(2), Requests: 1, Cost: 1e9, Currency: "EUR"},
	})
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := do(t, h, "developer", "GET", "/admin/balance", "")
	if rec.Code != http.StatusForbidden {
		t.Fatalf("developer: %d, want 403", rec.Code)
	}
	rec, _ = do(t, h, "admin", "GET", "/admin/balance", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("admin: %d %s", rec.Code, rec.Body)
	}
	var got struct{ Data []admin.BalanceView }
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Data) != 2 {
		t.Fatalf("currencies: %+v", got.Data)
	}
	cny, usd := got.Data[0], got.Data[1]
	// 26 CNY over 6.5 days = 4 CNY a day; 130 CNY lasts 32.5 days.
	if cny.Currency != "CNY" || cny.Balance != 130 || cny.WeekSpentNano != 26e9 || cny.WeekSpent != "26.000000" ||
		cny.DailyRate != 4 || cny.DaysLeft == nil || *cny.DaysLeft != 32.5 || cny.WindowDays != 6.5 || len(cny.Accounts) != 2 {
		t.Fatalf("CNY: %+v", cny)
	}
	if usd.Currency != "USD" || usd.Balance != 5 || usd.WeekSpentNano != 0 || usd.DaysLeft != nil {
		t.Fatalf("USD (nothing spent: no days_left): %+v", usd)
	}
}
