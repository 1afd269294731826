package console

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
)

// budgetsData is the budgets of one subject (an edit page) or of every
// subject (the Budgets page): their state in the current period, the
// runtime entries an operator may change, and the form to set one.
type budgetsData struct {
	Subject   string // "" on the Budgets page
	Rows      []admin.BudgetView
	Overrides []admin.BudgetEntry
	Off       bool // no budget state to show
	CanRead   bool
	CanEdit   bool // runtime budgets can be written and the caller may
	CanDelete bool
	Error     string
	Form      admin.BudgetEntry
	Back      string // the page to return to after a change
}

// budgetsData reads the budgets of subject ("": all) as the caller may
// see them (admin.usage read; changes: update and delete).
func (c *Console) budgetsData(r *http.Request, who *caller, subject string) budgetsData {
	d := budgetsData{Subject: subject, Back: r.URL.Path, Form: admin.BudgetEntry{Subject: subject, Period: "month", Currency: "USD"}}
	d.CanRead = c.can(who, auth.ResourceAdminUsage, auth.ActionRead)
	if !d.CanRead {
		return d
	}
	d.Off = c.o.Budgets == nil
	if !d.Off {
		var subjects []string
		if subject != "" {
			subjects = []string{subject}
		}
		rows, err := c.o.Budgets(r.Context(), subjects)
		if err != nil {
			d.Error = err.Error()
		}
		d.Rows = rows
	}
	if o := c.o.BudgetOverrides; o.Store != nil {
		cur, err := admin.LoadCostOverrides(r.Context(), o.Store)
		if err != nil {
			d.Error = err.Error()
		}
		for _, b := range cur.Budgets {
			if subject == "" || b.Subject == subject {
				d.Overrides = append(d.Overrides, b)
			}
		}
		d.CanEdit = c.can(who, auth.ResourceAdminUsage, auth.ActionUpdate)
		d.CanDelete = c.can(who, auth.ResourceAdminUsage, auth.ActionDelete)
	}
	return d
}

// budgetsPage shows every budget in force with its period, amount,
// spending and state (ok, past the soft threshold, exhausted).
func (c *Console) budgetsPage(w http.ResponseWriter, r *http.Request, who *caller) {
	c.showBudgets(w, r, who, http.StatusOK, "")
}

func (c *Console) showBudgets(w http.ResponseWriter, r *http.Request, who *caller, status int, errText string) {
	if !c.can(who, auth.ResourceAdminUsage, auth.ActionRead) {
		c.forbidden(w, r, who)
		return
	}
	d := c.budgetsData(r, who, "")
	d.Back = Prefix + "/budgets"
	if errText != "" {
		d.Error = errText
	}
	w.WriteHeader(status)
	c.render(w, "budgets", c.view(r, who, "budgets").with(d))
}

// backTo is the form's return page when it is a console page, else the
// Budgets page (no open redirect).
func backTo(r *http.Request) string {
	b := r.PostFormValue("back")
	if strings.HasPrefix(b, Prefix+"/") && !strings.HasPrefix(b, "//") && !strings.ContainsAny(b, "\\\r\n") && !strings.Contains(b, "//") {
		return b
	}
	return Prefix + "/budgets"
}

// putBudget sets a runtime budget with admin.PutBudget, as PUT
// /admin/budgets/{subject}/{period}/{currency}: validated against the
// configuration in force, applied at once.
func (c *Console) putBudget(w http.ResponseWriter, r *http.Request, who *caller) {
	o := c.o.BudgetOverrides
	if o.Store == nil || !c.can(who, auth.ResourceAdminUsage, auth.ActionUpdate) {
		c.forbidden(w, r, who)
		return
	}
	b := admin.BudgetEntry{Subject: strings.TrimSpace(r.PostFormValue("subject")), Period: r.PostFormValue("period"),
		Currency: r.PostFormValue("currency"), Amount: strings.TrimSpace(r.PostFormValue("amount"))}
	if s := strings.TrimSpace(r.PostFormValue("soft")); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			c.showBudgets(w, r, who, http.StatusBadRequest, "soft: not a number")
			return
		}
		b.Soft = f
	}
	err := c.withOverrides(r.Context(), func(cur admin.CostOverrides) error {
		return admin.PutBudget(r.Context(), o, cur, b, who.p.ID, c.o.Now(), c.o.Logger)
	})
	if err != nil {
		c.showBudgets(w, r, who, http.StatusBadRequest, err.Error())
		return
	}
	c.o.Logger.Info("budget override written", "budget", b.Name(), "by", who.p.ID, "via", "console")
	http.Redirect(w, r, backTo(r), http.StatusSeeOther)
}

func (c *Console) withOverrides(ctx context.Context, fn func(admin.CostOverrides) error) error {
	cur, err := admin.LoadCostOverrides(ctx, c.o.BudgetOverrides.Store)
	if err != nil {
		return err
	}
	return fn(cur)
}

// deleteBudget removes a runtime budget with admin.DeleteBudget.
func (c *Console) deleteBudget(w http.ResponseWriter, r *http.Request, who *caller) {
	o := c.o.BudgetOverrides
	if o.Store == nil || !c.can(who, auth.ResourceAdminUsage, auth.ActionDelete) {
		c.forbidden(w, r, who)
		return
	}
	name := r.PostFormValue("subject") + "/" + r.PostFormValue("period") + "/" + r.PostFormValue("currency")
	if err := admin.DeleteBudget(r.Context(), o, name, c.o.Logger); err != nil {
		c.showBudgets(w, r, who, http.StatusBadRequest, err.Error())
		return
	}
	c.o.Logger.Info("budget override deleted", "budget", name, "by", who.p.ID, "via", "console")
	http.Redirect(w, r, backTo(r), http.StatusSeeOther)
}
