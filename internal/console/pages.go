package console

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/upstream"
)

// Alert is something an operator should look at now.
type Alert struct {
	Kind    string // message key: alert_breaker, alert_unhealthy, alert_balance, or any text
	Subject string // the upstream, certificate, budget ...
	Detail  string
}

type overviewData struct {
	Hour, Day   Summary
	Alerts      []Alert
	HourChart   chart
	LatChart    chart
	DayChart    chart
	PerCurrency bool
}

// overview: traffic of the last hour and day from the Series, charts, and
// the current alerts.
func (c *Console) overview(w http.ResponseWriter, r *http.Request, who *caller) {
	if !c.can(who, auth.ResourceAdminUpstreams, auth.ActionRead) {
		http.Redirect(w, r, Prefix+"/usage", http.StatusSeeOther) // an analyst's home is their usage
		return
	}
	now := c.o.Now()
	v := c.view(r, who, "overview")
	v.Live = true
	d := overviewData{Hour: c.o.Series.Summary(now, time.Hour), Day: c.o.Series.Summary(now, 24*time.Hour),
		Alerts: c.alerts()}
	hour := c.o.Series.Points(now, time.Hour, 60)
	vals, lats, labels := make([]float64, len(hour)), make([]float64, len(hour)), make([]string, len(hour))
	for i, p := range hour {
		vals[i], lats[i], labels[i] = float64(p.Requests), float64(p.P95.Milliseconds()), p.At.UTC().Format("15:04")
	}
	d.HourChart = barChart(v.T("chart_requests"), vals, labels, func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) })
	d.LatChart = barChart(v.T("chart_latency"), lats, labels, func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) + " ms" })
	day := c.o.Series.Points(now, 24*time.Hour, 48)
	vals, labels = make([]float64, len(day)), make([]string, len(day))
	for i, p := range day {
		vals[i], labels[i] = float64(p.Requests), p.At.UTC().Format("Jan 2 15:04")
	}
	d.DayChart = barChart(v.T("last_day"), vals, labels, func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) })
	c.render(w, "overview", v.with(d))
}

// alerts are the open breakers, unhealthy upstreams and exhausted
// balances, plus what Options.Alerts adds (certificates, budgets).
func (c *Console) alerts() []Alert {
	var out []Alert
	if c.o.Upstreams != nil {
		for _, u := range c.o.Upstreams() {
			switch {
			case u.Breaker == "open":
				out = append(out, Alert{Kind: "alert_breaker", Subject: u.Name, Detail: u.LastError})
			case !u.Healthy:
				out = append(out, Alert{Kind: "alert_unhealthy", Subject: u.Name, Detail: u.LastError})
			}
			if u.Balance != nil && !u.Balance.Available {
				out = append(out, Alert{Kind: "alert_balance", Subject: u.Name})
			}
		}
	}
	if c.o.Alerts != nil {
		out = append(out, c.o.Alerts()...)
	}
	return out
}

type upstreamsData struct {
	Upstreams []upstreamRow
	Models    []ModelTargets
	CanDrain  bool
	Error     string
}

// upstreamRow is an upstream's status with its breaker's countdown.
type upstreamRow struct {
	upstream.Status
	RetryIn time.Duration // until an open breaker lets a trial through
}

func (c *Console) upstreams(w http.ResponseWriter, r *http.Request, who *caller) {
	if !c.can(who, auth.ResourceAdminUpstreams, auth.ActionRead) {
		c.forbidden(w, r, who)
		return
	}
	v := c.view(r, who, "upstreams")
	v.Live = true
	c.render(w, "upstreams", v.with(c.upstreamsData(who)))
}

func (c *Console) upstreamsData(who *caller) upstreamsData {
	var d upstreamsData
	now := c.o.Now()
	if c.o.Upstreams != nil {
		for _, s := range c.o.Upstreams() {
			row := upstreamRow{Status: s}
			if !s.BreakerRetryAt.IsZero() {
				row.RetryIn = max(s.BreakerRetryAt.Sub(now), 0).Round(time.Second)
			}
			d.Upstreams = append(d.Upstreams, row)
		}
		slices.SortFunc(d.Upstreams, func(a, b upstreamRow) int { return cmp.Compare(a.Name, b.Name) })
	}
	if c.o.Targets != nil {
		d.Models = c.o.Targets()
	}
	d.CanDrain = c.o.Drain != nil && c.can(who, auth.ResourceAdminUpstreams, auth.ActionUpdate)
	return d
}

// drain takes an upstream out of rotation or puts it back.
func (c *Console) drain(drained bool) handler {
	return func(w http.ResponseWriter, r *http.Request, who *caller) {
		if c.o.Drain == nil || !c.can(who, auth.ResourceAdminUpstreams, auth.ActionUpdate) {
			c.forbidden(w, r, who)
			return
		}
		name := r.PathValue("name")
		if err := c.o.Drain(name, drained); err != nil {
			d := c.upstreamsData(who)
			d.Error = err.Error()
			w.WriteHeader(http.StatusNotFound)
			c.render(w, "upstreams", c.view(r, who, "upstreams").with(d))
			return
		}
		c.o.Logger.Info("upstream drained", "upstream", name, "drained", drained, "by", who.p.ID, "via", "console")
		http.Redirect(w, r, Prefix+"/upstreams", http.StatusSeeOther)
	}
}

type keysData struct {
	Keys      []admin.KeyView
	NewKey    *admin.KeyView
	Error     string
	Notice    string
	CanCreate bool
	CanRevoke bool
	Form      admin.KeyRequest
	FormModel string
	Roles     []string
	Clients   []admin.ClientView
	CanClient bool // may revoke clients
	Teams     []teamRow
	// OAuth2 client creation: the new client (secret shown once), the
	// refused form and its error.
	NewClient       *admin.ClientView
	ClientForm      admin.ClientRequest
	ClientModels    string
	ClientError     string
	CanCreateClient bool
	// Team creation.
	TeamForm   store.Team
	TeamModels string
	TeamError  string
	CanTeams   bool // may create and edit teams
}

// teamRow is a team with its members ("key:<id>", "client:<id>").
type teamRow struct {
	store.Team
	Members []string
}

func (c *Console) keys(w http.ResponseWriter, r *http.Request, who *caller) {
	if !c.can(who, auth.ResourceAdminKeys, auth.ActionRead) {
		c.forbidden(w, r, who)
		return
	}
	d := keysData{Form: admin.KeyRequest{Role: "developer"}}
	if r.URL.Query().Get("revoked") != "" {
		d.Notice = translate(language(r), "key_revoked")
	}
	c.showKeys(w, r, who, http.StatusOK, d)
}

func (c *Console) showKeys(w http.ResponseWriter, r *http.Request, who *caller, status int, d keysData) {
	ks, err := c.o.Store.ListKeys(r.Context())
	if err != nil {
		c.o.Logger.Error("console: listing keys", "err", err)
		c.fail(w, r, who, http.StatusInternalServerError, "internal")
		return
	}
	for _, k := range ks {
		d.Keys = append(d.Keys, admin.ViewKey(k))
	}
	slices.SortFunc(d.Keys, func(a, b admin.KeyView) int { return b.CreatedAt.Compare(a.CreatedAt) })
	if c.can(who, auth.ResourceAdminClients, auth.ActionRead) {
		cs, err := c.o.Store.ListClients(r.Context())
		if err != nil {
			c.o.Logger.Error("console: listing clients", "err", err)
		}
		for _, cl := range cs {
			d.Clients = append(d.Clients, admin.ViewClient(cl))
		}
		d.CanClient = c.can(who, auth.ResourceAdminClients, auth.ActionDelete)
	}
	d.Teams = c.teams(r)
	d.CanCreate = c.o.Grants != nil && c.can(who, auth.ResourceAdminKeys, auth.ActionCreate)
	d.CanRevoke = c.can(who, auth.ResourceAdminKeys, auth.ActionDelete)
	d.CanCreateClient = c.o.Grants != nil && c.can(who, auth.ResourceAdminClients, auth.ActionCreate)
	d.CanTeams = c.o.Teams != nil && c.can(who, auth.ResourceAdminRoles, auth.ActionUpdate)
	if d.ClientForm.Role == "" {
		d.ClientForm.Role = "developer"
	}
	d.Roles = []string{"analyst", "developer", "admin"}
	v := c.view(r, who, "keys")
	w.WriteHeader(status)
	c.render(w, "keys", v.with(d))
}

// createKey creates a key with admin.CreateKey (the admin API's own
// function: the same checks of role, models and limits) and shows its
// secret once.
func (c *Console) createKey(w http.ResponseWriter, r *http.Request, who *caller) {
	if c.o.Grants == nil || !c.can(who, auth.ResourceAdminKeys, auth.ActionCreate) {
		c.forbidden(w, r, who)
		return
	}
	req := admin.KeyRequest{Name: r.PostFormValue("name"), Role: r.PostFormValue("role"),
		ExpiresIn: strings.TrimSpace(r.PostFormValue("expires_in"))}
	models := r.PostFormValue("models")
	for m := range strings.SplitSeq(models, ",") {
		if m = strings.TrimSpace(m); m != "" {
			req.Models = append(req.Models, m)
		}
	}
	var bad []string
	for name, dst := range map[string]*int64{"rpm": &req.RPM, "tpm": &req.TPM, "max_concurrent": &req.MaxConcurrent} {
		if s := strings.TrimSpace(r.PostFormValue(name)); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				bad = append(bad, name)
			}
			*dst = n
		}
	}
	d := keysData{Form: req, FormModel: models}
	if len(bad) > 0 {
		slices.Sort(bad)
		d.Error = fmt.Sprintf("%s: %s", strings.Join(bad, ", "), "not a number")
		c.showKeys(w, r, who, http.StatusBadRequest, d)
		return
	}
	kv, err := admin.CreateKey(r.Context(), c.o.Store, req, c.o.Now(), c.o.Grants(), who.p)
	if err != nil {
		d.Error = err.Error()
		c.showKeys(w, r, who, http.StatusBadRequest, d)
		return
	}
	c.o.Logger.Info("api key created", "key_id", kv.ID, "role", kv.Role, "by", who.p.ID, "via", "console")
	d = keysData{NewKey: &kv, Form: admin.KeyRequest{Role: "developer"}}
	c.showKeys(w, r, who, http.StatusCreated, d)
}

func (c *Console) revokeKey(w http.ResponseWriter, r *http.Request, who *caller) {
	if !c.can(who, auth.ResourceAdminKeys, auth.ActionDelete) {
		c.forbidden(w, r, who)
		return
	}
	id := r.PathValue("id")
	if err := admin.RevokeKey(r.Context(), c.o.Store, id, c.o.Now(), c.o.KeyRevoked, c.o.Grants(), who.p); err != nil {
		c.showKeys(w, r, who, http.StatusBadRequest, keysData{Error: err.Error(), Form: admin.KeyRequest{Role: "developer"}})
		return
	}
	c.o.Logger.Info("api key revoked", "key_id", id, "by", who.p.ID, "via", "console")
	http.Redirect(w, r, Prefix+"/keys?revoked="+urlQueryEscape(id), http.StatusSeeOther)
}

// teams lists the teams with their members, nil without a team store.
func (c *Console) teams(r *http.Request) []teamRow {
	if c.o.Teams == nil {
		return nil
	}
	ts, err := c.o.Teams.ListTeams(r.Context())
	if err != nil {
		return nil
	}
	members, _ := c.o.Teams.ListTeamMembers(r.Context())
	out := make([]teamRow, 0, len(ts))
	for _, t := range ts {
		row := teamRow{Team: t}
		for _, m := range members {
			if m.Team == t.Name {
				row.Members = append(row.Members, string(m.Kind)+":"+m.PrincipalID)
			}
		}
		out = append(out, row)
	}
	return out
}

// revokeClient revokes an OAuth2 client: its secret stops working and
// the tokens it holds are refused at their next check, as DELETE
// /admin/clients/{id} does.
func (c *Console) revokeClient(w http.ResponseWriter, r *http.Request, who *caller) {
	if !c.can(who, auth.ResourceAdminClients, auth.ActionDelete) {
		c.forbidden(w, r, who)
		return
	}
	id := r.PathValue("id")
	if err := admin.RevokeClient(r.Context(), c.o.Store, id, c.o.Now(), c.o.Grants(), who.p); err != nil {
		c.showKeys(w, r, who, http.StatusBadRequest, keysData{Error: err.Error(), Form: admin.KeyRequest{Role: "developer"}})
		return
	}
	c.o.Logger.Info("oauth client revoked", "client_id", id, "by", who.p.ID, "via", "console")
	http.Redirect(w, r, Prefix+"/keys?revoked="+urlQueryEscape(id), http.StatusSeeOther)
}

type configData struct {
	State       ConfigState
	LastRefused *Reload
}

func (c *Console) config(w http.ResponseWriter, r *http.Request, who *caller) {
	if !c.can(who, auth.ResourceAdminRoles, auth.ActionRead) || c.o.Config == nil {
		c.forbidden(w, r, who)
		return
	}
	d := configData{State: c.o.Config()}
	for i := range d.State.Reloads {
		if !d.State.Reloads[i].OK {
			d.LastRefused = &d.State.Reloads[i]
			break
		}
	}
	c.render(w, "config", c.view(r, who, "config").with(d))
}
