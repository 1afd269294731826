package console

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/upstream"
	"github.com/dsgate/dsgate/internal/websession"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Prefix is where the console is served.
const Prefix = "/console"

// Store is what the console reads and writes: keys, clients and usage.
type Store interface {
	store.KeyStore
	store.ClientStore
	store.UsageStore
}

// ConfigState is the running configuration as the console shows it.
type ConfigState struct {
	// YAML is the effective config with every secret redacted.
	YAML string
	// Reloads are the latest reloads, newest first.
	Reloads []Reload
}

// Reload is one attempt to reload the configuration.
type Reload struct {
	At    time.Time
	OK    bool
	Error string // why it was refused
}

// Options configure the console. Sessions, Authenticate, Authorize and
// Store are required.
type Options struct {
	Sessions *websession.Manager
	// Authenticate checks the API key typed at sign-in (the same check as
	// the API's: hash lookup, failed-attempt limit by r's address).
	Authenticate func(r *http.Request, key string) (*auth.Principal, error)
	// Authorize is the RBAC check of the admin API.
	Authorize func(p *auth.Principal, resource, action string) error
	// Store holds keys and usage.
	Store Store
	// Grants decides the roles and models a new key may get (the current
	// *auth.Policy); nil refuses every key creation.
	Grants func() admin.Grants
	// KeyRevoked is called after a key is revoked (drops it from the
	// authenticator's cache).
	KeyRevoked func(id string)
	// Teams keeps teams and their members; nil: no teams.
	Teams store.TeamStore
	// Drain takes the named upstream out of rotation (true) or puts it
	// back (false); nil: no drain buttons.
	Drain func(name string, drained bool) error
	// Upstreams returns each upstream's state; Targets each model's
	// upstream names.
	Upstreams func() []upstream.Status
	Targets   func() []ModelTargets
	// Cache is the response cache; nil when it is off.
	Cache CacheControl
	// Batches is the Batch API; nil when it is off.
	Batches BatchControl
	// Series is the traffic ring the pipeline feeds.
	Series *Series
	// Acted, when set, is told of every state-changing request (not a GET
	// or HEAD) of a signed-in person, once it is answered: who, the
	// status and when it began; and of every sign-in attempt, p nil when
	// it was refused. The server writes it to the audit trail, so what is
	// done in the console is recorded as the admin API's is.
	Acted func(r *http.Request, p *auth.Principal, status int, start time.Time)
	// AuditFiles returns the audit trail's JSON-lines files, oldest first;
	// nil when the audit trail is off or not written to files.
	AuditFiles func() ([]string, error)
	// Alerts adds alerts the console cannot see itself (certificate
	// expiry, budgets near their limit); nil: none.
	Alerts func() []Alert
	// Config returns the running config (redacted) and its reload history.
	Config func() ConfigState
	// SecretParams hash new OAuth2 clients' secrets; zero:
	// auth.DefaultArgon2.
	SecretParams auth.Argon2Params
	// TeamsChanged is called after a team or membership is written, so
	// the access control rereads the teams at once (as the admin API's).
	TeamsChanged func(ctx context.Context) error
	// Budgets returns the state of the budgets in force for subjects
	// (nil: every one), as GET /admin/budgets (admin.BudgetStatus); nil:
	// no budget state.
	Budgets func(ctx context.Context, subjects []string) ([]admin.BudgetView, error)
	// BudgetOverrides write runtime budgets as PUT|DELETE /admin/budgets
	// do; without a Store the console shows no budget forms.
	BudgetOverrides admin.OverrideOptions
	// SSOIssuers are the OIDC issuers people may sign in with; each gets
	// a link to /auth/oidc/login?issuer=<issuer>.
	SSOIssuers []string
	Now        func() time.Time
	Logger     *slog.Logger
}

// ModelTargets is a public model and the upstreams that serve it.
type ModelTargets struct {
	Model   string
	Targets []string
}

// Console is the console's http.Handler.
type Console struct {
	o     Options
	mux   *http.ServeMux
	pages *pages
}

// New returns the console.
func New(o Options) (*Console, error) {
	if o.Sessions == nil || o.Authenticate == nil || o.Authorize == nil || o.Store == nil {
		return nil, errors.New("console: sessions, authenticate, authorize and store are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Series == nil {
		o.Series = NewSeries()
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{o: o, mux: http.NewServeMux(), pages: p}
	c.routes()
	return c, nil
}

func (c *Console) routes() {
	static, _ := fs.Sub(assets, "static")
	c.mux.Handle("GET "+Prefix+"/static/", http.StripPrefix(Prefix+"/static/", staticFiles(static)))
	c.mux.HandleFunc("GET "+Prefix+"/login", c.loginPage)
	c.mux.HandleFunc("POST "+Prefix+"/login", c.login)
	c.mux.HandleFunc("POST "+Prefix+"/logout", c.signedIn(c.logout))
	c.mux.HandleFunc("GET "+Prefix+"/{$}", c.signedIn(c.overview))
	c.mux.HandleFunc("GET "+Prefix+"/upstreams", c.signedIn(c.upstreams))
	c.mux.HandleFunc("POST "+Prefix+"/upstreams/{name}/drain", c.signedIn(c.drain(true)))
	c.mux.HandleFunc("POST "+Prefix+"/upstreams/{name}/enable", c.signedIn(c.drain(false)))
	c.mux.HandleFunc("GET "+Prefix+"/keys", c.signedIn(c.keys))
	c.mux.HandleFunc("POST "+Prefix+"/keys", c.signedIn(c.createKey))
	c.mux.HandleFunc("POST "+Prefix+"/keys/{id}/revoke", c.signedIn(c.revokeKey))
	c.mux.HandleFunc("GET "+Prefix+"/keys/{id}", c.signedIn(c.keyPage))
	c.mux.HandleFunc("POST "+Prefix+"/keys/{id}/limits", c.signedIn(c.setKeyLimits))
	c.mux.HandleFunc("POST "+Prefix+"/keys/{id}/team", c.signedIn(c.setTeam(store.KindKey)))
	c.mux.HandleFunc("POST "+Prefix+"/clients", c.signedIn(c.createClient))
	c.mux.HandleFunc("GET "+Prefix+"/clients/{id}", c.signedIn(c.clientPage))
	c.mux.HandleFunc("POST "+Prefix+"/clients/{id}/limits", c.signedIn(c.setClientLimits))
	c.mux.HandleFunc("POST "+Prefix+"/clients/{id}/team", c.signedIn(c.setTeam(store.KindClient)))
	c.mux.HandleFunc("POST "+Prefix+"/clients/{id}/revoke", c.signedIn(c.revokeClient))
	c.mux.HandleFunc("POST "+Prefix+"/teams", c.signedIn(c.putTeam))
	c.mux.HandleFunc("GET "+Prefix+"/teams/{name}", c.signedIn(c.teamPage))
	c.mux.HandleFunc("POST "+Prefix+"/teams/{name}", c.signedIn(c.putTeam))
	c.mux.HandleFunc("GET "+Prefix+"/budgets", c.signedIn(c.budgetsPage))
	c.mux.HandleFunc("POST "+Prefix+"/budgets", c.signedIn(c.putBudget))
	c.mux.HandleFunc("POST "+Prefix+"/budgets/delete", c.signedIn(c.deleteBudget))
	c.mux.HandleFunc("GET "+Prefix+"/usage", c.signedIn(c.usage))
	c.mux.HandleFunc("GET "+Prefix+"/usage.csv", c.signedIn(c.usageCSV))
	c.mux.HandleFunc("GET "+Prefix+"/requests", c.signedIn(c.requests))
	c.mux.HandleFunc("GET "+Prefix+"/requests/{id}", c.signedIn(c.request))
	c.mux.HandleFunc("GET "+Prefix+"/config", c.signedIn(c.config))
	c.mux.HandleFunc("GET "+Prefix+"/cache", c.signedIn(c.cachePage))
	c.mux.HandleFunc("POST "+Prefix+"/cache/purge", c.signedIn(c.purgeCache))
	c.mux.HandleFunc("POST "+Prefix+"/batches/{id}/cancel", c.signedIn(c.cancelBatch))
	c.mux.HandleFunc("GET "+Prefix+"/batches/{id}/output", c.signedIn(c.batchFile("output")))
	c.mux.HandleFunc("GET "+Prefix+"/batches/{id}/errors", c.signedIn(c.batchFile("errors")))
	c.mux.HandleFunc(Prefix+"/", c.notFound)
}

// ServeHTTP serves a console page with the security headers every answer
// carries.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, Prefix+"/static/") {
		h.Set("Cache-Control", "no-store")
	}
	if r.Method == http.MethodPost && !sameOrigin(r) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	rememberLanguage(w, r)
	c.mux.ServeHTTP(w, r)
}

// sameOrigin refuses a POST whose Origin header names another site (the
// CSRF token is the main defence; this is the second).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") != "cross-site"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func staticFiles(fsys fs.FS) http.Handler {
	fileServer := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		fileServer.ServeHTTP(w, r)
	})
}

func (c *Console) notFound(w http.ResponseWriter, r *http.Request) {
	v := c.view(r, nil, "")
	w.WriteHeader(http.StatusNotFound)
	c.render(w, "error", v.with(errorData{Message: v.T("not_found")}))
}
