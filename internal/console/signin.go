package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/websession"
)

// caller is the signed-in person of a request: their session and the
// principal RBAC checks.
type caller struct {
	s *websession.Session
	p *auth.Principal
}

// handler is a console page for a signed-in person.
type handler func(w http.ResponseWriter, r *http.Request, c *caller)

// signedIn runs h for a request with a live session whose principal still
// exists (a revoked or expired key ends its sessions). Without one, a GET
// goes to the sign-in page and anything else is refused. Every request
// but a GET must carry the session's CSRF token.
func (c *Console) signedIn(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.o.Sessions.Get(r)
		var who *caller
		if ok {
			who, ok = c.caller(r, s)
		}
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"/login?next="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, nil, http.StatusUnauthorized, "signed_out")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead && !c.o.Sessions.CheckCSRF(r, s) {
			c.fail(w, r, who, http.StatusForbidden, "csrf_failed")
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead || c.o.Acted == nil {
			h(w, r, who)
			return
		}
		start, sw := c.o.Now(), &statusRecorder{ResponseWriter: w}
		h(sw, r, who)
		c.o.Acted(r, who.p, sw.status(), start)
	}
}

// statusRecorder notes the status a console action answered with.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}

// caller rebuilds the principal behind a session. A key's current record
// decides (its role now, not at sign-in); a key that is gone, revoked or
// expired ends the session.
func (c *Console) caller(r *http.Request, s *websession.Session) (*caller, bool) {
	if s.Via != viaAPIKey {
		return &caller{s: s, p: &auth.Principal{ID: s.Principal, Role: s.Role}}, true
	}
	k, err := c.o.Store.Key(r.Context(), s.Principal)
	now := c.o.Now()
	if err != nil || !k.RevokedAt.IsZero() || (!k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt)) {
		_ = c.o.Sessions.End(discardCookies{}, r)
		return nil, false
	}
	p := &auth.Principal{ID: k.ID, Kind: auth.KindKey, Name: k.Name, Role: k.Role, Models: k.Models}
	return &caller{s: s, p: p}, true
}

// can reports whether the caller may do action on resource.
func (c *Console) can(who *caller, resource, action string) bool {
	return who != nil && c.o.Authorize(who.p, resource, action) == nil
}

const viaAPIKey = "api_key"

type loginData struct {
	Next    string
	Token   string
	Error   string
	Issuers []string
}

// loginCookie is the name of the sign-in form's CSRF cookie (double
// submit: there is no session yet to hold a token).
func (c *Console) loginCookie() string {
	return strings.Replace(c.o.Sessions.Cookie(), "session", "login", 1)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	c.showLogin(w, r, http.StatusOK, "")
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, errKey string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, &http.Cookie{Name: c.loginCookie(), Value: token, Path: "/", HttpOnly: true,
		Secure: strings.HasPrefix(c.loginCookie(), "__Host-"), SameSite: http.SameSiteStrictMode,
		Expires: c.o.Now().Add(time.Hour)})
	v := c.view(r, nil, "login")
	d := loginData{Next: safeNext(r.FormValue("next")), Token: token, Issuers: c.o.SSOIssuers}
	if errKey != "" {
		d.Error = v.T(errKey)
	}
	w.WriteHeader(status)
	c.render(w, "login", v.with(d))
}

// login exchanges an API key for a session. The key is checked exactly as
// the API checks it; the session id is new (never the one presented).
//
// Every attempt is told to Acted, refused ones too (with no principal):
// a run of guesses at the sign-in form is in the audit trail, as a run of
// refused API calls is.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	start := c.o.Now()
	var p *auth.Principal
	status := http.StatusSeeOther
	if c.o.Acted != nil {
		defer func() { c.o.Acted(r, p, status, start) }()
	}
	ck, err := r.Cookie(c.loginCookie())
	form := r.PostFormValue(websession.CSRFField)
	if err != nil || form == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) != 1 {
		status = http.StatusForbidden
		c.showLogin(w, r, status, "csrf_failed")
		return
	}
	p, err = c.o.Authenticate(r, strings.TrimSpace(r.PostFormValue("api_key")))
	if err != nil || p == nil || p.Kind != auth.KindKey {
		p = nil
		msg := "bad_key"
		status = http.StatusUnauthorized
		if err != nil && !errors.Is(err, auth.ErrUnauthenticated) {
			status, msg = http.StatusTooManyRequests, "try_later" // failed-attempt limit, store down
		}
		c.showLogin(w, r, status, msg)
		return
	}
	team := ""
	if c.o.Teams != nil {
		if teamOf, err := admin.TeamLookup(r.Context(), c.o.Teams); err == nil {
			team = teamOf(store.KindKey, p.ID)
		}
	}
	if _, err := c.o.Sessions.Start(w, r, websession.Identity{Principal: p.ID, Role: p.Role, Team: team, Via: viaAPIKey}); err != nil {
		status = http.StatusInternalServerError
		c.fail(w, r, nil, status, "internal")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: c.loginCookie(), Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: strings.HasPrefix(c.loginCookie(), "__Host-"), SameSite: http.SameSiteStrictMode})
	c.o.Logger.Info("console sign-in", "principal", p.ID, "role", p.Role)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, who *caller) {
	_ = c.o.Sessions.End(w, r)
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

// safeNext is where to go after sign-in: a console path, never another
// site ("//evil", "https://evil") or a path outside the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix+"/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix + "/"
	}
	return next
}

// discardCookies is a ResponseWriter for ending a session where no
// answer is being written.
type discardCookies struct{}

func (discardCookies) Header() http.Header         { return http.Header{} }
func (discardCookies) Write(b []byte) (int, error) { return len(b), nil }
func (discardCookies) WriteHeader(int)             {}
