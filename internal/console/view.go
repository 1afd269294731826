package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/pricing"
)

// view is what every page's template gets: the frame (language, who is
// signed in, the menu) and the page's own Data.
type view struct {
	Lang      string
	Page      string
	Principal string
	Role      string
	CSRF      string
	Nav       []navItem
	// LangURL is the current page in the other language.
	LangURL string
	// Live turns on the script's refresh of the page's data-live parts.
	Live bool
	Data any
}

type navItem struct {
	Page, Path string
}

// T returns the text for key in the page's language.
func (v view) T(key string) string { return translate(v.Lang, key) }

func (v view) with(data any) view { v.Data = data; return v }

// nav lists the pages the caller's role may open.
var nav = []struct {
	page, path, resource, action string
}{
	{"overview", Prefix + "/", auth.ResourceAdminUpstreams, auth.ActionRead},
	{"upstreams", Prefix + "/upstreams", auth.ResourceAdminUpstreams, auth.ActionRead},
	{"keys", Prefix + "/keys", auth.ResourceAdminKeys, auth.ActionRead},
	{"usage", Prefix + "/usage", "", ""},
	{"requests", Prefix + "/requests", auth.ResourceAudit, auth.ActionRead},
	{"budgets", Prefix + "/budgets", auth.ResourceAdminUsage, auth.ActionRead},
	{"cache", Prefix + "/cache", auth.ResourceCache, auth.ActionRead},
	{"config", Prefix + "/config", auth.ResourceAdminRoles, auth.ActionRead},
}

// view builds the frame of a page for who (nil: signed out).
func (c *Console) view(r *http.Request, who *caller, page string) view {
	lang := language(r)
	v := view{Lang: lang, Page: page}
	other := langZH
	if lang == langZH {
		other = langEN
	}
	q := r.URL.Query()
	q.Set("lang", other)
	v.LangURL = r.URL.Path + "?" + q.Encode()
	if who != nil {
		v.Principal, v.Role, v.CSRF = who.s.Principal, who.s.Role, who.s.CSRF
		for _, n := range nav {
			if n.resource == "" || c.can(who, n.resource, n.action) {
				v.Nav = append(v.Nav, navItem{Page: n.page, Path: n.path})
			}
		}
	}
	return v
}

// summaryArgs is what the "summary" template gets.
type summaryArgs struct {
	V view
	D Summary
	K string
}

// budgetsArgs is what the "budgets" template gets.
type budgetsArgs struct {
	V view
	D budgetsData
}

type errorData struct {
	Message string
}

// fail renders an error page with status.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, who *caller, status int, key string) {
	v := c.view(r, who, "")
	w.WriteHeader(status)
	c.render(w, "error", v.with(errorData{Message: v.T(key)}))
}

// forbidden renders the 403 page for a role that may not see or do this.
func (c *Console) forbidden(w http.ResponseWriter, r *http.Request, who *caller) {
	c.fail(w, r, who, http.StatusForbidden, "forbidden")
}

// pages holds one template set per page: the layout plus the page.
type pages struct {
	byName map[string]*template.Template
}

var pageNames = []string{"login", "error", "overview", "upstreams", "keys", "usage", "requests", "request", "config", "cache", "edit", "budgets"}

func parsePages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/parts.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	if _, err := fs.Stat(assets, "static/console.js"); err != nil {
		return nil, err
	}
	return p, nil
}

// render writes page name; a template error becomes a plain 500 (nothing
// half-written reaches the browser).
func (c *Console) render(w http.ResponseWriter, name string, v view) {
	var buf bytes.Buffer
	if err := c.pages.byName[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		c.o.Logger.Error("console template", "page", name, "err", err)
		http.Error(w, "console template error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}

// funcs format numbers for the templates.
var funcs = template.FuncMap{
	"ms": func(d time.Duration) string {
		if d == 0 {
			return "–"
		}
		if d < 10*time.Millisecond {
			return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
		}
		return fmt.Sprintf("%d ms", d.Milliseconds())
	},
	"pct":   func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"money": func(nano int64) string { return pricing.Amount(nano).String() },
	"num":   func(n int64) string { return groupDigits(n) },
	"f2":    func(f float64) string { return fmt.Sprintf("%.2f", f) },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"join": strings.Join,
	"groupings": func(teams, own bool) []string {
		g := []string{"principal,model,day", "model,day", "model", "day", "principal"}
		if teams && !own {
			g = append(g, "team", "team,model,day")
		}
		return g
	},
	"pair":    func(v view, d Summary, k string) summaryArgs { return summaryArgs{V: v, D: d, K: k} },
	"budgets": func(v view, d budgetsData) budgetsArgs { return budgetsArgs{V: v, D: d} },
	"list":    func(s ...string) []string { return s },
	"query": func(kv ...string) string {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		return q.Encode()
	},
}

// groupDigits writes n with thin spaces between thousands.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

func urlPathEscape(s string) string { return url.PathEscape(s) }
