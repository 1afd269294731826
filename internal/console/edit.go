package console

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
)

// editData is the edit page of one key, OAuth2 client or team: its
// limits and allow-list, its team (keys and clients), its budgets.
type editData struct {
	Kind       string // "key", "client" or "team"
	ID         string
	Name       string
	Role       string
	Limits     admin.LimitsRequest
	ModelsText string
	Team       string   // the key's or client's team, "" for none
	TeamNames  []string // the teams it may join
	CanEdit    bool     // may change the limits
	CanTeam    bool     // may change the team
	Budgets    budgetsData
	Error      string
	Notice     string
}

// subject is the budget subject of the edited principal or team.
func (d editData) subject() string { return d.Kind + ":" + d.ID }

// limitStore is the store's store.LimitStore, nil when it has none.
func (c *Console) limitStore() store.LimitStore {
	ls, _ := c.o.Store.(store.LimitStore)
	return ls
}

// parseLimits reads the models, rpm, tpm and max_concurrent fields of a
// form; bad names the fields that are not numbers.
func parseLimits(r *http.Request) (l admin.LimitsRequest, modelsText string, bad []string) {
	modelsText = r.PostFormValue("models")
	for m := range strings.SplitSeq(modelsText, ",") {
		if m = strings.TrimSpace(m); m != "" {
			l.Models = append(l.Models, m)
		}
	}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"rpm", &l.RPM}, {"tpm", &l.TPM}, {"max_concurrent", &l.MaxConcurrent}} {
		if s := strings.TrimSpace(r.PostFormValue(f.name)); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				bad = append(bad, f.name)
			}
			*f.dst = n
		}
	}
	return l, modelsText, bad
}

func notNumbers(bad []string) string {
	return strings.Join(bad, ", ") + ": not a number"
}

// teamOf is the team of a key or client, "" for none.
func (c *Console) teamOf(ctx context.Context, kind store.PrincipalKind, id string) string {
	if c.o.Teams == nil {
		return ""
	}
	lookup, err := admin.TeamLookup(ctx, c.o.Teams)
	if err != nil {
		return ""
	}
	return lookup(kind, id)
}

func (c *Console) teamNames(ctx context.Context) []string {
	if c.o.Teams == nil {
		return nil
	}
	ts, err := c.o.Teams.ListTeams(ctx)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

// keyPage shows a key's edit page.
func (c *Console) keyPage(w http.ResponseWriter, r *http.Request, who *caller) {
	c.showKey(w, r, who, http.StatusOK, editData{Notice: c.savedNotice(r)})
}

func (c *Console) savedNotice(r *http.Request) string {
	if r.URL.Query().Get("saved") != "" {
		return translate(language(r), "changes_saved")
	}
	return ""
}

// showKey renders the key's edit page over d (Error, Notice and, after a
// refused form, the typed Limits).
func (c *Console) showKey(w http.ResponseWriter, r *http.Request, who *caller, status int, d editData) {
	if !c.can(who, auth.ResourceAdminKeys, auth.ActionRead) {
		c.forbidden(w, r, who)
		return
	}
	k, err := c.o.Store.Key(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, who, http.StatusNotFound, "not_found")
		return
	}
	d.Kind, d.ID, d.Name, d.Role = "key", k.ID, k.Name, k.Role
	if status == http.StatusOK {
		d.Limits = admin.LimitsRequest{Models: k.Models, RPM: k.RPM, TPM: k.TPM, MaxConcurrent: k.MaxConcurrent}
		d.ModelsText = strings.Join(k.Models, ", ")
	}
	d.CanEdit = c.limitStore() != nil && c.o.Grants != nil && c.can(who, auth.ResourceAdminKeys, auth.ActionUpdate)
	c.showEdit(w, r, who, status, store.KindKey, d)
}

// showEdit fills what keys and clients share (team, budgets) and renders.
func (c *Console) showEdit(w http.ResponseWriter, r *http.Request, who *caller, status int, kind store.PrincipalKind, d editData) {
	if kind != "" {
		d.Team = c.teamOf(r.Context(), kind, d.ID)
		d.TeamNames = c.teamNames(r.Context())
		d.CanTeam = c.o.Teams != nil && c.can(who, auth.ResourceAdminRoles, auth.ActionUpdate)
	}
	d.Budgets = c.budgetsData(r, who, d.subject())
	v := c.view(r, who, "keys")
	w.WriteHeader(status)
	c.render(w, "edit", v.with(d))
}

// setKeyLimits replaces a key's allow-list and limits with
// admin.SetKeyLimits (the admin API's PATCH /admin/keys/{id}: the caller
// must hold the key's role and every model it grants).
func (c *Console) setKeyLimits(w http.ResponseWriter, r *http.Request, who *caller) {
	ls := c.limitStore()
	if ls == nil || c.o.Grants == nil || !c.can(who, auth.ResourceAdminKeys, auth.ActionUpdate) {
		c.forbidden(w, r, who)
		return
	}
	id := r.PathValue("id")
	req, text, bad := parseLimits(r)
	d := editData{Limits: req, ModelsText: text}
	if len(bad) > 0 {
		d.Error = notNumbers(bad)
		c.showKey(w, r, who, http.StatusBadRequest, d)
		return
	}
	st := struct {
		store.KeyStore
		store.LimitStore
	}{c.o.Store, ls}
	if _, err := admin.SetKeyLimits(r.Context(), st, id, req, c.o.Grants(), who.p, c.o.KeyRevoked); err != nil {
		d.Error = err.Error()
		c.showKey(w, r, who, http.StatusBadRequest, d)
		return
	}
	c.o.Logger.Info("api key limits set", "key_id", id, "by", who.p.ID, "via", "console")
	http.Redirect(w, r, Prefix+"/keys/"+urlPathEscape(id)+"?saved=1", http.StatusSeeOther)
}

// setTeam puts a key or client in a team, or out of any ("" team), as
// PUT|DELETE /admin/teams/{name}/members/{kind}/{id} do.
func (c *Console) setTeam(kind store.PrincipalKind) handler {
	return func(w http.ResponseWriter, r *http.Request, who *caller) {
		if c.o.Teams == nil || !c.can(who, auth.ResourceAdminRoles, auth.ActionUpdate) {
			c.forbidden(w, r, who)
			return
		}
		id, team := r.PathValue("id"), strings.TrimSpace(r.PostFormValue("team"))
		var err error
		if kind == store.KindKey {
			_, err = c.o.Store.Key(r.Context(), id)
		} else {
			_, err = c.o.Store.Client(r.Context(), id)
		}
		if err == nil {
			err = admin.CheckOwnTeam(r.Context(), c.o.Teams, who.p, "", string(kind), id)
		}
		if err == nil {
			err = c.o.Teams.SetTeamMember(r.Context(), kind, id, team)
		}
		back := Prefix + "/" + string(kind) + "s/" + urlPathEscape(id)
		if err != nil {
			d := editData{Error: err.Error()}
			if kind == store.KindKey {
				c.showKey(w, r, who, http.StatusBadRequest, d)
			} else {
				c.showClient(w, r, who, http.StatusBadRequest, d)
			}
			return
		}
		c.teamsChanged(r.Context())
		c.o.Logger.Info("team member set", "kind", kind, "id", id, "team", team, "by", who.p.ID, "via", "console")
		http.Redirect(w, r, back+"?saved=1", http.StatusSeeOther)
	}
}

func (c *Console) teamsChanged(ctx context.Context) {
	if c.o.TeamsChanged != nil {
		if err := c.o.TeamsChanged(ctx); err != nil {
			c.o.Logger.Warn("console: reloading teams", "err", err)
		}
	}
}

// clientPage shows an OAuth2 client's edit page.
func (c *Console) clientPage(w http.ResponseWriter, r *http.Request, who *caller) {
	c.showClient(w, r, who, http.StatusOK, editData{Notice: c.savedNotice(r)})
}

func (c *Console) showClient(w http.ResponseWriter, r *http.Request, who *caller, status int, d editData) {
	if !c.can(who, auth.ResourceAdminClients, auth.ActionRead) {
		c.forbidden(w, r, who)
		return
	}
	cl, err := c.o.Store.Client(r.Context(), r.PathValue("id"))
	if err != nil {
		c.fail(w, r, who, http.StatusNotFound, "not_found")
		return
	}
	d.Kind, d.ID, d.Name, d.Role = "client", cl.ID, cl.Name, cl.Role
	if status == http.StatusOK {
		d.Limits = admin.LimitsRequest{Models: cl.Models, RPM: cl.RPM, TPM: cl.TPM, MaxConcurrent: cl.MaxConcurrent}
		d.ModelsText = strings.Join(cl.Models, ", ")
	}
	d.CanEdit = c.limitStore() != nil && c.o.Grants != nil && c.can(who, auth.ResourceAdminClients, auth.ActionUpdate)
	c.showEdit(w, r, who, status, store.KindClient, d)
}

// setClientLimits replaces a client's allow-list and limits with
// admin.SetClientLimits (PATCH /admin/clients/{id}).
func (c *Console) setClientLimits(w http.ResponseWriter, r *http.Request, who *caller) {
	ls := c.limitStore()
	if ls == nil || c.o.Grants == nil || !c.can(who, auth.ResourceAdminClients, auth.ActionUpdate) {
		c.forbidden(w, r, who)
		return
	}
	id := r.PathValue("id")
	req, text, bad := parseLimits(r)
	d := editData{Limits: req, ModelsText: text}
	if len(bad) > 0 {
		d.Error = notNumbers(bad)
		c.showClient(w, r, who, http.StatusBadRequest, d)
		return
	}
	st := struct {
		store.ClientStore
		store.LimitStore
	}{c.o.Store, ls}
	if _, err := admin.SetClientLimits(r.Context(), st, id, req, c.o.Grants(), who.p); err != nil {
		d.Error = err.Error()
		c.showClient(w, r, who, http.StatusBadRequest, d)
		return
	}
	c.o.Logger.Info("oauth client limits set", "client_id", id, "by", who.p.ID, "via", "console")
	http.Redirect(w, r, Prefix+"/clients/"+urlPathEscape(id)+"?saved=1", http.StatusSeeOther)
}

// createClient creates an OAuth2 client with admin.CreateClient (the
// admin API's POST /admin/clients) and shows its secret once.
func (c *Console) createClient(w http.ResponseWriter, r *http.Request, who *caller) {
	if c.o.Grants == nil || !c.can(who, auth.ResourceAdminClients, auth.ActionCreate) {
		c.forbidden(w, r, who)
		return
	}
	lim, text, bad := parseLimits(r)
	req := admin.ClientRequest{Name: r.PostFormValue("name"), Role: r.PostFormValue("role"),
		Scopes: strings.Fields(r.PostFormValue("scopes")), Models: lim.Models, RPM: lim.RPM, TPM: lim.TPM,
		MaxConcurrent: lim.MaxConcurrent}
	d := keysData{Form: admin.KeyRequest{Role: "developer"}, ClientForm: req, ClientModels: text}
	if len(bad) > 0 {
		d.ClientError = notNumbers(bad)
		c.showKeys(w, r, who, http.StatusBadRequest, d)
		return
	}
	params := c.o.SecretParams
	if params == (auth.Argon2Params{}) {
		params = auth.DefaultArgon2
	}
	cv, err := admin.CreateClient(r.Context(), c.o.Store, req, c.o.Now(), c.o.Grants(), who.p, params)
	if err != nil {
		d.ClientError = err.Error()
		c.showKeys(w, r, who, http.StatusBadRequest, d)
		return
	}
	c.o.Logger.Info("oauth client created", "client_id", cv.ID, "role", cv.Role, "by", who.p.ID, "via", "console")
	c.showKeys(w, r, who, http.StatusCreated, keysData{NewClient: &cv, Form: admin.KeyRequest{Role: "developer"}})
}

// teamPage shows a team's edit page.
func (c *Console) teamPage(w http.ResponseWriter, r *http.Request, who *caller) {
	c.showTeam(w, r, who, http.StatusOK, editData{Notice: c.savedNotice(r)})
}

func (c *Console) showTeam(w http.ResponseWriter, r *http.Request, who *caller, status int, d editData) {
	if c.o.Teams == nil || !c.can(who, auth.ResourceAdminRoles, auth.ActionRead) {
		c.forbidden(w, r, who)
		return
	}
	t, err := c.o.Teams.Team(r.Context(), r.PathValue("name"))
	if err != nil {
		c.fail(w, r, who, http.StatusNotFound, "not_found")
		return
	}
	d.Kind, d.ID, d.Name = "team", t.Name, t.Name
	if status == http.StatusOK {
		d.Limits = admin.LimitsRequest{Models: t.Models, RPM: t.RPM, TPM: t.TPM, MaxConcurrent: t.MaxConcurrent}
		d.ModelsText = strings.Join(t.Models, ", ")
	}
	d.CanEdit = c.can(who, auth.ResourceAdminRoles, auth.ActionUpdate)
	c.showEdit(w, r, who, status, "", d)
}

// putTeam creates a team (POST /console/teams with a name) or replaces
// one's allow-list and limits (POST /console/teams/{name}), with
// admin.PutTeam as PUT /admin/teams/{name}.
func (c *Console) putTeam(w http.ResponseWriter, r *http.Request, who *caller) {
	if c.o.Teams == nil || !c.can(who, auth.ResourceAdminRoles, auth.ActionUpdate) {
		c.forbidden(w, r, who)
		return
	}
	name := r.PathValue("name")
	creating := name == ""
	if creating {
		name = strings.TrimSpace(r.PostFormValue("name"))
	}
	req, text, bad := parseLimits(r)
	t := store.Team{Name: name, Models: req.Models, RPM: req.RPM, TPM: req.TPM, MaxConcurrent: req.MaxConcurrent, UpdatedAt: c.o.Now()}
	err := error(nil)
	switch {
	case len(bad) > 0:
		err = fmt.Errorf("%s", notNumbers(bad))
	case creating:
		if _, e := c.o.Teams.Team(r.Context(), name); e == nil {
			err = fmt.Errorf("team %q exists", name)
		}
	}
	if err == nil {
		err = admin.CheckOwnTeam(r.Context(), c.o.Teams, who.p, name, "", "")
	}
	if err == nil {
		err = admin.PutTeam(r.Context(), c.o.Teams, t, c.o.TeamsChanged, c.o.Logger)
	}
	if err != nil {
		if creating {
			c.showKeys(w, r, who, http.StatusBadRequest, keysData{Form: admin.KeyRequest{Role: "developer"},
				TeamError: err.Error(), TeamForm: t, TeamModels: text})
			return
		}
		c.showTeam(w, r, who, http.StatusBadRequest, editData{Error: err.Error(), Limits: req, ModelsText: text})
		return
	}
	c.o.Logger.Info("team written", "team", name, "by", who.p.ID, "via", "console")
	http.Redirect(w, r, Prefix+"/teams/"+urlPathEscape(name)+"?saved=1", http.StatusSeeOther)
}
