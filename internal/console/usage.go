package console

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
)

type usageData struct {
	From, To, Kind, ID, GroupBy string
	Own                         bool
	Lines                       []admin.ReportLine
	Total                       admin.ReportLine
	Chart                       chart
	Error                       string
	CSVQuery                    string
	HasTeams                    bool
}

// usageFilter reads the page's filter. A caller who may not read every
// principal's usage (admin.usage) sees their own only, whatever the
// query says.
func (c *Console) usageFilter(r *http.Request, who *caller) (store.UsageFilter, usageData, error) {
	q := r.URL.Query()
	now := c.o.Now().UTC()
	d := usageData{From: q.Get("from"), To: q.Get("to"), Kind: q.Get("kind"), ID: q.Get("id"), GroupBy: q.Get("group_by")}
	if d.From == "" {
		d.From = now.AddDate(0, 0, -29).Format(time.DateOnly)
	}
	if d.To == "" {
		d.To = now.Format(time.DateOnly)
	}
	if !c.can(who, auth.ResourceAdminUsage, auth.ActionRead) {
		d.Own, d.Kind, d.ID = true, string(who.p.Kind), who.p.ID
	}
	f := store.UsageFilter{Kind: store.PrincipalKind(d.Kind), PrincipalID: d.ID}
	if f.Kind != "" && f.Kind != store.KindKey && f.Kind != store.KindClient {
		return f, d, errBadFilter("kind")
	}
	var err error
	if f.From, err = time.Parse(time.DateOnly, d.From); err != nil {
		return f, d, errBadFilter("from")
	}
	if f.To, err = time.Parse(time.DateOnly, d.To); err != nil {
		return f, d, errBadFilter("to")
	}
	f.To = f.To.AddDate(0, 0, 1) // the page's "to" day is included; the store's To is not
	d.CSVQuery = "from=" + d.From + "&to=" + d.To
	if !d.Own && d.Kind != "" {
		d.CSVQuery += "&kind=" + urlQueryEscape(d.Kind)
	}
	if !d.Own && d.ID != "" {
		d.CSVQuery += "&id=" + urlQueryEscape(d.ID)
	}
	return f, d, nil
}

type errBadFilter string

func (e errBadFilter) Error() string { return "bad " + string(e) }

// usage reports usage grouped by team, principal, model and day, built by
// the admin report's own functions from the store's daily buckets.
func (c *Console) usage(w http.ResponseWriter, r *http.Request, who *caller) {
	v := c.view(r, who, "usage")
	f, d, err := c.usageFilter(r, who)
	d.HasTeams = c.o.Teams != nil
	if err != nil {
		d.Error = err.Error()
		w.WriteHeader(http.StatusBadRequest)
		c.render(w, "usage", v.with(d))
		return
	}
	groupBy, err := admin.ParseGroupBy(d.GroupBy)
	if err != nil {
		d.Error = err.Error()
		w.WriteHeader(http.StatusBadRequest)
		c.render(w, "usage", v.with(d))
		return
	}
	rows, err := c.o.Store.Usage(r.Context(), f)
	if err != nil {
		c.o.Logger.Error("console: usage", "err", err)
		c.fail(w, r, who, http.StatusInternalServerError, "internal")
		return
	}
	var teamOf func(store.PrincipalKind, string) string
	if c.o.Teams != nil && !d.Own {
		teamOf, _ = c.o.Teams(r.Context())
	}
	entries := admin.EntriesFromUsage(rows)
	d.Lines = admin.BuildReport(entries, groupBy, time.UTC, teamOf)
	if tot := admin.BuildReport(entries, nil, time.UTC, nil); len(tot) == 1 {
		d.Total = tot[0]
	} else {
		for _, l := range tot { // one line per currency: add the counts
			d.Total.Requests += l.Requests
			d.Total.PromptTokens += l.PromptTokens
			d.Total.CacheHitTokens += l.CacheHitTokens
			d.Total.CompletionTokens += l.CompletionTokens
		}
	}
	d.Chart = c.usageChart(v, entries, f.From, f.To)
	c.render(w, "usage", v.with(d))
}

// usageChart draws tokens per day from from to to (excluded).
func (c *Console) usageChart(v view, entries []admin.ReportEntry, from, to time.Time) chart {
	days := int(to.Sub(from) / (24 * time.Hour))
	if days < 1 || days > 400 {
		return chart{Empty: true}
	}
	vals, labels := make([]float64, days), make([]string, days)
	for i := range days {
		labels[i] = from.AddDate(0, 0, i).Format(time.DateOnly)
	}
	for _, e := range entries {
		i := int(e.At.UTC().Sub(from) / (24 * time.Hour))
		if i >= 0 && i < days {
			vals[i] += float64(e.PromptTokens + e.CompletionTokens)
		}
	}
	return barChart(v.T("tokens"), vals, labels, func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) })
}

// usageCSV exports the usage rows of the filter, one per principal, model,
// day and currency, with the same columns and numbers as GET /admin/usage.
func (c *Console) usageCSV(w http.ResponseWriter, r *http.Request, who *caller) {
	f, _, err := c.usageFilter(r, who)
	if err != nil {
		c.fail(w, r, who, http.StatusBadRequest, err.Error())
		return
	}
	rows, err := c.o.Store.Usage(r.Context(), f)
	if err != nil {
		c.fail(w, r, who, http.StatusInternalServerError, "internal")
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="dsgate-usage.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"kind", "id", "model", "day", "requests", "prompt_tokens", "prompt_cache_hit_tokens",
		"completion_tokens", "cost_nano", "cost_saved_nano", "currency"})
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }
	for _, u := range rows {
		_ = cw.Write([]string{string(u.Kind), csvCell(u.PrincipalID), csvCell(u.Model), u.Day.Format(time.DateOnly),
			i64(u.Requests), i64(u.PromptTokens), i64(u.CacheHitTokens), i64(u.CompletionTokens),
			i64(u.Cost), i64(u.CostSaved), csvCell(u.Currency)})
	}
	cw.Flush()
}

// csvCell defuses a cell a spreadsheet would run as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
