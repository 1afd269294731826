package admin

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/budget"
	"github.com/dsgate/dsgate/internal/store"
)

// CostOptions configures the CostHandler.
type CostOptions struct {
	Teams store.TeamStore
	Usage store.UsageStore
	// Authorize as in Options. Required.
	Authorize func(r *http.Request, resource, action string) (*auth.Principal, error)
	// TeamsChanged is called after a team or membership is written, e.g.
	// to reload the access control's snapshot at once on this replica.
	TeamsChanged func(ctx context.Context) error
	// Budgets returns the budgets in force (nil: none), for GET
	// /admin/budgets.
	Budgets func() *budget.Budgets
	// Balances returns the upstream accounts' last polled balances (nil:
	// none), for GET /admin/balance.
	Balances func() []AccountBalance
	// Overrides manage the runtime price and budget entries
	// (/admin/prices, PUT|DELETE /admin/budgets/...); without a Store
	// those routes answer 400.
	Overrides OverrideOptions
	// Location is the zone report days and hours are cut in unless the
	// request names one (time_zone): the budgets' time zone. Default UTC.
	Location *time.Location
	Clock    func() time.Time
	Logger   *slog.Logger
}

// NewCost returns the handler of /admin/teams and /admin/usage/report.
// Teams are managed with the roles permission (admin:roles); the report
// needs admin:usage.
func NewCost(o CostOptions) (http.Handler, error) {
	if o.Teams == nil || o.Usage == nil || o.Authorize == nil {
		return nil, fmt.Errorf("admin: teams, usage and authorize are required")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	c := &costHandler{o: o, h: &Handler{opts: Options{Authorize: o.Authorize, Clock: o.Clock, Logger: o.Logger}, mux: http.NewServeMux()}}
	h := c.h
	h.route("GET /admin/teams", auth.ResourceAdminRoles, auth.ActionRead, c.listTeams)
	h.route("GET /admin/teams/{name}", auth.ResourceAdminRoles, auth.ActionRead, c.getTeam)
	h.route("PUT /admin/teams/{name}", auth.ResourceAdminRoles, auth.ActionUpdate, c.putTeam)
	h.route("DELETE /admin/teams/{name}", auth.ResourceAdminRoles, auth.ActionDelete, c.deleteTeam)
	h.route("PUT /admin/teams/{name}/members/{kind}/{id}", auth.ResourceAdminRoles, auth.ActionUpdate, c.addMember)
	h.route("DELETE /admin/teams/{name}/members/{kind}/{id}", auth.ResourceAdminRoles, auth.ActionDelete, c.removeMember)
	h.route("GET /admin/usage/report", auth.ResourceAdminUsage, auth.ActionRead, c.report)
	h.route("GET /admin/budgets", auth.ResourceAdminUsage, auth.ActionRead, c.budgets)
	h.route("GET /admin/balance", auth.ResourceAdminUsage, auth.ActionRead, c.balance)
	c.mountOverrides()
	return h, nil
}

type costHandler struct {
	o CostOptions
	h *Handler
}

// TeamView is a team with its members.
type TeamView struct {
	store.Team
	Members []store.TeamMember `json:"members"`
}

// TeamRequest is the body of PUT /admin/teams/{name}.
type TeamRequest struct {
	Models        []string `json:"models"`
	RPM           int64    `json:"rpm"`
	TPM           int64    `json:"tpm"`
	MaxConcurrent int64    `json:"max_concurrent"`
}

func (c *costHandler) changed(ctx context.Context) {
	if c.o.TeamsChanged != nil {
		if err := c.o.TeamsChanged(ctx); err != nil {
			c.o.Logger.Warn("reloading teams", "err", err)
		}
	}
}

func (c *costHandler) view(ctx context.Context, t store.Team) (TeamView, error) {
	all, err := c.o.Teams.ListTeamMembers(ctx)
	if err != nil {
		return TeamView{}, err
	}
	v := TeamView{Team: t, Members: []store.TeamMember{}}
	for _, m := range all {
		if m.Team == t.Name {
			v.Members = append(v.Members, m)
		}
	}
	return v, nil
}

func (c *costHandler) listTeams(r *http.Request, _ *auth.Principal) (int, any, error) {
	ts, err := c.o.Teams.ListTeams(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]TeamView, 0, len(ts))
	for _, t := range ts {
		v, err := c.view(r.Context(), t)
		if err != nil {
			return 0, nil, err
		}
		out = append(out, v)
	}
	return http.StatusOK, map[string]any{"object": "list", "data": out}, nil
}

func (c *costHandler) getTeam(r *http.Request, _ *auth.Principal) (int, any, error) {
	t, err := c.o.Teams.Team(r.Context(), r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	v, err := c.view(r.Context(), t)
	return http.StatusOK, v, err
}

// CheckOwnTeam refuses a change to the team that confines caller (team,
// when not "") or to caller's own membership (kind and id, when not ""):
// a team only narrows its members' models and limits, so rewriting,
// deleting or leaving one's own team, or joining a looser one, is how a
// member with the roles permission would widen its own access. Another
// administrator (or the operator's CLI, a nil caller) makes those changes.
func CheckOwnTeam(ctx context.Context, ts store.TeamStore, caller *auth.Principal, team, kind, id string) error {
	if caller == nil {
		return nil
	}
	if kind != "" && kind == string(caller.Kind) && id == caller.ID {
		return fmt.Errorf("%w: a key or client may not change its own team membership", auth.ErrForbidden)
	}
	if team == "" {
		return nil
	}
	own := caller.Team // from an external issuer's claims, else the store's membership
	if own == "" {
		ms, err := ts.ListTeamMembers(ctx)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if string(m.Kind) == string(caller.Kind) && m.PrincipalID == caller.ID {
				own = m.Team
			}
		}
	}
	if team == own {
		return fmt.Errorf("%w: a member may not change its own team %q", auth.ErrForbidden, team)
	}
	return nil
}

func (c *costHandler) putTeam(r *http.Request, caller *auth.Principal) (int, any, error) {
	if err := CheckOwnTeam(r.Context(), c.o.Teams, caller, r.PathValue("name"), "", ""); err != nil {
		return 0, nil, err
	}
	var req TeamRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	t := store.Team{Name: r.PathValue("name"), Models: req.Models, RPM: req.RPM, TPM: req.TPM,
		MaxConcurrent: req.MaxConcurrent, UpdatedAt: c.o.Clock()}
	if err := PutTeam(r.Context(), c.o.Teams, t, c.o.TeamsChanged, c.o.Logger); err != nil {
		return 0, nil, err
	}
	c.o.Logger.Info("team written", "team", t.Name)
	return c.getTeam(r, nil)
}

// PutTeam validates t and creates or replaces it, then calls changed (nil:
// none) so the access control rereads the teams; a failure of changed is
// logged (the periodic refresh catches up).
func PutTeam(ctx context.Context, ts store.TeamStore, t store.Team, changed func(context.Context) error, log *slog.Logger) error {
	if err := ValidateTeam(t); err != nil {
		return err
	}
	for _, m := range t.Models {
		if _, err := path.Match(m, ""); err != nil || m == "" || !plainText(m) {
			return fmt.Errorf("%w: bad model pattern %q", ErrInvalid, m)
		}
	}
	if err := ts.PutTeam(ctx, t); err != nil {
		return err
	}
	if changed != nil {
		if err := changed(ctx); err != nil && log != nil {
			log.Warn("reloading teams", "err", err)
		}
	}
	return nil
}

// ValidateTeam checks a team before it is stored.
func ValidateTeam(t store.Team) error {
	if t.Name == "" || len(t.Name) > 64 || bytes.ContainsAny([]byte(t.Name), " /:\t\n") {
		return fmt.Errorf("%w: team name must be 1-64 characters without spaces, '/' or ':'", ErrInvalid)
	}
	if t.RPM < 0 || t.TPM < 0 || t.MaxConcurrent < 0 {
		return fmt.Errorf("%w: limits must not be negative", ErrInvalid)
	}
	return nil
}

func (c *costHandler) deleteTeam(r *http.Request, caller *auth.Principal) (int, any, error) {
	if err := CheckOwnTeam(r.Context(), c.o.Teams, caller, r.PathValue("name"), "", ""); err != nil {
		return 0, nil, err
	}
	if err := c.o.Teams.DeleteTeam(r.Context(), r.PathValue("name")); err != nil {
		return 0, nil, err
	}
	c.changed(r.Context())
	return http.StatusNoContent, nil, nil
}

func memberKind(s string) (store.PrincipalKind, error) {
	switch k := store.PrincipalKind(s); k {
	case store.KindKey, store.KindClient:
		return k, nil
	}
	return "", fmt.Errorf("%w: member kind must be key or client", ErrInvalid)
}

func (c *costHandler) addMember(r *http.Request, caller *auth.Principal) (int, any, error) {
	kind, err := memberKind(r.PathValue("kind"))
	if err != nil {
		return 0, nil, err
	}
	if err := CheckOwnTeam(r.Context(), c.o.Teams, caller, "", string(kind), r.PathValue("id")); err != nil {
		return 0, nil, err
	}
	if err := c.o.Teams.SetTeamMember(r.Context(), kind, r.PathValue("id"), r.PathValue("name")); err != nil {
		return 0, nil, err
	}
	c.changed(r.Context())
	return c.getTeam(r, nil)
}

func (c *costHandler) removeMember(r *http.Request, caller *auth.Principal) (int, any, error) {
	kind, err := memberKind(r.PathValue("kind"))
	if err != nil {
		return 0, nil, err
	}
	if err := CheckOwnTeam(r.Context(), c.o.Teams, caller, "", string(kind), r.PathValue("id")); err != nil {
		return 0, nil, err
	}
	if _, err := c.o.Teams.Team(r.Context(), r.PathValue("name")); err != nil {
		return 0, nil, err
	}
	if err := c.o.Teams.SetTeamMember(r.Context(), kind, r.PathValue("id"), ""); err != nil {
		return 0, nil, err
	}
	c.changed(r.Context())
	return c.getTeam(r, nil)
}

// TeamLookup returns the team of a principal from the store's members.
func TeamLookup(ctx context.Context, ts store.TeamStore) (func(store.PrincipalKind, string) string, error) {
	members, err := ts.ListTeamMembers(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]string{}
	byKindID := map[string]string{}
	for _, m := range members {
		byKindID[string(m.Kind)+":"+m.PrincipalID] = m.Team
		byID[m.PrincipalID] = m.Team
	}
	return func(kind store.PrincipalKind, id string) string {
		if kind == "" {
			return byID[id]
		}
		return byKindID[string(kind)+":"+id]
	}, nil
}

// report answers GET /admin/usage/report?group_by=team,model,hour&from=
// &to=&time_zone=&format=json|csv|table from the usage store's hourly
// buckets. from and to are dates (midnight in the zone) or RFC 3339
// times; the zone defaults to the budgets' (Location).
func (c *costHandler) report(r *http.Request, _ *auth.Principal) (int, any, error) {
	q := r.URL.Query()
	groupBy, err := ParseGroupBy(q.Get("group_by"))
	if err != nil {
		return 0, nil, err
	}
	loc := c.o.Location
	if tz := q.Get("time_zone"); tz != "" {
		if loc, err = time.LoadLocation(tz); err != nil {
			return 0, nil, fmt.Errorf("%w: time_zone: %q is not an IANA time zone", ErrInvalid, tz)
		}
	}
	f := store.UsageFilter{ByHour: NeedHours(groupBy, loc)}
	info := map[string]any{"object": "list", "group_by": groupBy, "time_zone": loc.String()}
	for _, b := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(b.name); v != "" {
			t, err := ParseReportTime(v, loc)
			if err != nil {
				return 0, nil, fmt.Errorf("%s: %w", b.name, err)
			}
			*b.dst = t
			info[b.name] = CoveredFrom(t).In(loc).Format(time.RFC3339) // the whole hours covered
		}
	}
	rows, err := c.o.Usage.Usage(r.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	teamOf, err := TeamLookup(r.Context(), c.o.Teams)
	if err != nil {
		return 0, nil, err
	}
	lines := BuildReport(EntriesFromUsage(rows), groupBy, loc, teamOf)
	switch q.Get("format") {
	case "", "json":
		info["data"] = lines
		return http.StatusOK, info, nil
	case "csv":
		var b bytes.Buffer
		err := WriteReportCSV(&b, lines, groupBy)
		return http.StatusOK, rawBody{"text/csv; charset=utf-8", b.Bytes()}, err
	case "table":
		var b bytes.Buffer
		err := WriteReportTable(&b, lines, groupBy)
		return http.StatusOK, rawBody{"text/plain; charset=utf-8", b.Bytes()}, err
	}
	return 0, nil, fmt.Errorf("%w: format must be json, csv or table", ErrInvalid)
}

// rawBody is an answer that is not JSON.
type rawBody struct {
	contentType string
	body        []byte
}

// BudgetView is one budget's state in its current period.
type BudgetView struct {
	Subject  string  `json:"subject"`
	Period   string  `json:"period"`
	Currency string  `json:"currency"`
	Amount   string  `json:"amount"`
	Spent    string  `json:"spent"` // settled plus in-flight reservations
	Ratio    float64 `json:"spent_ratio"`
	Soft     float64 `json:"soft"` // the soft threshold (ratio) in force
	Start    string  `json:"period_start"`
	Reset    string  `json:"resets_at"`
}

// budgets answers GET /admin/budgets[?subject=team:research].
func (c *costHandler) budgets(r *http.Request, _ *auth.Principal) (int, any, error) {
	var bs *budget.Budgets
	if c.o.Budgets != nil {
		bs = c.o.Budgets()
	}
	var subjects []string
	if s := r.URL.Query().Get("subject"); s != "" {
		subjects = []string{s}
	}
	out, err := BudgetStatus(r.Context(), bs, subjects, c.o.Clock())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"object": "list", "data": out}, nil
}

// BudgetStatus is the state of the budgets in force (bs may be nil) for
// subjects (nil: every one) in their current period, sorted by subject,
// period and currency.
func BudgetStatus(ctx context.Context, bs *budget.Budgets, subjects []string, now time.Time) ([]BudgetView, error) {
	st, err := bs.Status(ctx, subjects, now)
	if err != nil {
		return nil, err
	}
	out := make([]BudgetView, 0, len(st))
	for _, s := range st {
		soft := s.Rule.Soft
		if soft == 0 {
			soft = budget.DefaultSoft
		}
		out = append(out, BudgetView{Subject: s.Rule.Subject, Period: s.Rule.Period.String(), Currency: string(s.Rule.Currency),
			Amount: s.Rule.Amount.String(), Spent: s.Spent.String(), Ratio: float64(s.Spent) / float64(s.Rule.Amount),
			Soft: soft, Start: s.Start.Format(time.RFC3339), Reset: s.Reset.Format(time.RFC3339)})
	}
	slices.SortFunc(out, func(a, b BudgetView) int {
		return cmp.Or(cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Period, b.Period), cmp.Compare(a.Currency, b.Currency))
	})
	return out, nil
}

// State is "hard" when the budget is spent (requests are refused),
// "soft" past its soft threshold, else "ok".
func (v BudgetView) State() string {
	switch {
	case v.Ratio >= 1:
		return "hard"
	case v.Ratio >= v.Soft:
		return "soft"
	}
	return "ok"
}
