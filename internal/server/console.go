package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/batch"
	"github.com/dsgate/dsgate/internal/budget"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/console"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/upstream"
)

// seriesObserver is the console's time series as the Recorder's hook, nil
// (no cost on the request path) with the console off.
func (c *core) seriesObserver() pipeline.SeriesObserver {
	if c.series == nil {
		return nil
	}
	return c.series
}

// buildConsole builds the web console when console.enabled is set. It
// calls the same functions as the admin API: the store, admin.CreateKey
// and RevokeKey, access control, the gateway's upstream status.
func (s *Server) buildConsole(cfg *config.Config) (*console.Console, error) {
	c := s.core
	if c.store == nil {
		return nil, errors.New("console: needs auth.enabled")
	}
	o := console.Options{
		Sessions: c.webSessions(cfg), // shared with SSO
		Authenticate: func(r *http.Request, key string) (*auth.Principal, error) {
			var credErr error
			if key == "" {
				credErr = auth.ErrNoCredentials
			}
			return c.access.Authenticate(auth.WithClientAddr(r.Context(), r.RemoteAddr), key, credErr)
		},
		Authorize: func(p *auth.Principal, resource, action string) error {
			return c.access.Authorize(p, resource, action, "")
		},
		Store:      c.store,
		Grants:     func() admin.Grants { return c.access },
		KeyRevoked: c.keyRevoked,
		Upstreams:  func() []upstream.Status { return s.gateway().Upstreams() },
		Targets:    s.modelTargets,
		Drain:      s.drainUpstream,
		Series:     c.series,
		Config:     s.consoleConfig,
		Alerts:     s.consoleAlerts,
		Now:        time.Now,
		Logger:     s.log,
	}
	if c.cache != nil {
		o.Cache = c.cache
	}
	if c.batches != nil {
		o.Batches = consoleBatches{st: c.store, m: c.batches}
	}
	if c.sso != nil {
		o.SSOIssuers = c.sso.Names()
	}
	if ts, ok := c.store.(store.TeamStore); ok {
		o.Teams = ts
		o.TeamsChanged = func(ctx context.Context) error { return c.reloadTeams(ctx, ts) }
	}
	o.Budgets = func(ctx context.Context, subjects []string) ([]admin.BudgetView, error) {
		return admin.BudgetStatus(ctx, c.access.Costing().Budgets, subjects, time.Now())
	}
	if cs := costOverrideStore(c.store); cs != nil {
		o.BudgetOverrides = admin.OverrideOptions{Store: cs, Validate: c.validateCostOverrides,
			Changed: func(ctx context.Context) error { return c.refreshCostOverrides(ctx, true) }}
	}
	o.Acted = c.auditAction("CONSOLE ")
	if a := cfg.Audit; a.Enabled && !a.File.Disabled {
		path := a.File.Path
		o.AuditFiles = func() ([]string, error) { return auditFiles(path) }
	}
	return console.New(o)
}

// auditAction records a person's action in a web page (the console's,
// a sign-in) in the audit trail: route is kind and the request's method
// and path; p is nil for a refused sign-in. Nil when the trail is off.
func (c *core) auditAction(kind string) func(r *http.Request, p *auth.Principal, status int, start time.Time) {
	if c.audit == nil {
		return nil
	}
	return func(r *http.Request, p *auth.Principal, status int, start time.Time) {
		ev := audit.Event{RequestID: audit.NewID(start), ClientAddr: r.RemoteAddr,
			Route: kind + r.Method + " " + r.URL.Path, Status: status, RequestAt: start, ResponseAt: time.Now()}
		if p != nil {
			ev.Principal, ev.Role = p.ID, p.Role
		}
		c.audit.Record(ev)
	}
}

// consoleBatches gives the console the unfinished jobs of every owner
// (the store) and the Batch API's own cancel.
type consoleBatches struct {
	st store.BatchStore
	m  *batch.Manager
}

func (b consoleBatches) ActiveBatches(ctx context.Context) ([]store.Batch, error) {
	return b.st.ActiveBatches(ctx)
}

func (b consoleBatches) Batch(ctx context.Context, id string) (store.Batch, error) {
	return b.st.Batch(ctx, id)
}

// OpenFile reads any owner's file, as an operator.
func (b consoleBatches) OpenFile(ctx context.Context, id string) (store.BatchFile, io.ReadCloser, error) {
	return b.m.OpenFile(ctx, id, "")
}

func (b consoleBatches) Cancel(ctx context.Context, id, owner string) (store.Batch, error) {
	return b.m.Cancel(ctx, id, owner)
}

// reloadTeams rereads the teams into the access control at once (as the
// admin API's TeamsChanged), after the console changed one.
func (c *core) reloadTeams(ctx context.Context, ts store.TeamStore) error {
	t, err := access.LoadTeams(ctx, ts)
	if err != nil {
		return err
	}
	c.access.SetTeams(t)
	return nil
}

// certAlertBefore is how long before its expiry the served certificate
// shows as an alert.
const certAlertBefore = 14 * 24 * time.Hour

// consoleAlerts are the alerts the console cannot see itself: the served
// certificate expiring soon, and budgets past their soft threshold.
func (s *Server) consoleAlerts() []console.Alert {
	var out []console.Alert
	now := time.Now()
	if s.certLeaf != nil {
		if leaf := s.certLeaf(); leaf != nil && leaf.NotAfter.Sub(now) < certAlertBefore {
			out = append(out, console.Alert{Kind: "alert_cert", Subject: leaf.Subject.String(),
				Detail: "expires " + leaf.NotAfter.UTC().Format(time.RFC3339)})
		}
	}
	b := s.core.access.Costing().Budgets
	if b.Empty() {
		return out
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	sts, err := b.Status(ctx, nil, now)
	if err != nil {
		return append(out, console.Alert{Kind: "alert_budget", Subject: "budgets", Detail: err.Error()})
	}
	for _, st := range sts {
		soft := st.Rule.Soft
		if soft == 0 {
			soft = budget.DefaultSoft
		}
		if st.Rule.Amount <= 0 {
			continue
		}
		ratio := float64(st.Spent) / float64(st.Rule.Amount)
		if ratio >= soft {
			out = append(out, console.Alert{Kind: "alert_budget", Subject: st.Rule.Name(),
				Detail: fmt.Sprintf("%.0f%% spent, resets %s", ratio*100, st.Reset.UTC().Format(time.RFC3339))})
		}
	}
	return out
}

// drainUpstream takes the current generation's upstream name out of
// rotation or puts it back. A reload that rebuilds the upstream (its
// definition changed) starts it in rotation again.
func (s *Server) drainUpstream(name string, drained bool) error {
	for _, r := range s.gen.Load().upstreams {
		if r.u.Name() == name {
			r.u.SetDrained(drained)
			return nil
		}
	}
	return fmt.Errorf("no upstream %q", name)
}

// modelTargets lists each configured model's upstreams.
func (s *Server) modelTargets() []console.ModelTargets {
	cfg := s.gen.Load().cfg
	out := make([]console.ModelTargets, 0, len(cfg.Models))
	for _, m := range cfg.Models {
		mt := console.ModelTargets{Model: m.Name}
		for _, t := range m.Targets {
			mt.Targets = append(mt.Targets, t.Upstream)
		}
		out = append(out, mt)
	}
	return out
}

// consoleConfig is the running config, redacted as `dsgate config print`
// redacts it, and the reload history.
func (s *Server) consoleConfig() console.ConfigState {
	var st console.ConfigState
	b, err := yaml.Marshal(s.gen.Load().cfg)
	if err != nil {
		st.YAML = "error: " + err.Error()
	} else {
		st.YAML = string(b)
	}
	st.Reloads = s.reloads.list()
	return st
}

// auditFiles lists the audit chain's files oldest first: the rotated
// <base>-<20 digits><ext> files beside the live one, then the live file.
func auditFiles(live string) ([]string, error) {
	dir, name := filepath.Split(live)
	ext := filepath.Ext(name)
	base := strings.TrimSuffix(name, ext)
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return nil, err
	}
	re := regexp.MustCompile("^" + regexp.QuoteMeta(base) + `-\d{20}` + regexp.QuoteMeta(ext) + "$")
	var out []string
	for _, e := range entries {
		if !e.IsDir() && re.MatchString(e.Name()) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(out)
	return append(out, live), nil
}

// withConsole serves the console under /console/ beside the API.
func withConsole(api http.Handler, con http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == console.Prefix:
			http.Redirect(w, r, console.Prefix+"/", http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, console.Prefix+"/"):
			con.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

// consoleListener serves the console alone on its own address.
func consoleListener(con http.Handler, ln net.Listener, tlsConf *tls.Config) listener {
	mux := http.NewServeMux()
	mux.Handle(console.Prefix+"/", con)
	mux.Handle("/", http.RedirectHandler(console.Prefix+"/", http.StatusFound))
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	return httpListener("console", &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln)
}

// reloadLog keeps the latest reload attempts for the console.
type reloadLog struct {
	mu      sync.Mutex
	entries []console.Reload
}

const maxReloads = 20

func (l *reloadLog) add(at time.Time, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := console.Reload{At: at, OK: err == nil}
	if err != nil {
		e.Error = err.Error()
	}
	l.entries = append([]console.Reload{e}, l.entries...)
	if len(l.entries) > maxReloads {
		l.entries = l.entries[:maxReloads]
	}
}

func (l *reloadLog) list() []console.Reload {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.entries)
}

// ReloadRefused records a reload refused before Reload was called (the
// new file did not load), for the console's reload history.
func (s *Server) ReloadRefused(err error) {
	s.reloads.add(time.Now(), fmt.Errorf("loading the config: %w", err))
}
