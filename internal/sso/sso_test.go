package sso

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/auth/federation"
	"github.com/dsgate/dsgate/internal/testkit/idptest"
	"github.com/dsgate/dsgate/internal/websession"
)

func newHandler(t *testing.T, issuer string, now func() time.Time) *Handler {
	t.Helper()
	is, err := federation.NewIssuer(federation.IssuerOptions{Name: "corp", Issuer: issuer, Audiences: []string{"dsgate"}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(Options{Providers: []Provider{{Issuer: is, ClientID: "dsgate-web"}}, BaseURL: "http://127.0.0.1:1",
		Sessions: websession.New(websession.Options{Insecure: true}), StateKey: make([]byte, 32), Insecure: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// A callback the browser did not start is refused (login CSRF): no state
// cookie, a state that differs from the cookie's, a forged cookie, or a
// sign-in older than the state's lifetime.
func TestCallbackRefusesForeignState(t *testing.T) {
	op := idptest.Start(t, idptest.Options{})
	now := time.Now()
	clock := func() time.Time { return now }
	h := newHandler(t, op.Issuer, clock)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", LoginPath+"?issuer=corp&next=/console/keys", nil))
	if rec.Code != http.StatusFound {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	to, _ := url.Parse(rec.Header().Get("Location"))
	q := to.Query()
	if !strings.HasPrefix(to.String(), op.Issuer+"/auth") || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" ||
		q.Get("nonce") == "" || q.Get("state") == "" || q.Get("redirect_uri") != "http://127.0.0.1:1"+CallbackPath {
		t.Fatalf("authorization request %s", to)
	}
	cookie := rec.Result().Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.MaxAge <= 0 {
		t.Fatalf("state cookie %+v", cookie)
	}

	callback := func(state string, c *http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", CallbackPath+"?code=abc&state="+url.QueryEscape(state), nil)
		if c != nil {
			r.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	forged := *cookie
	forged.Value = strings.Repeat("A", len(cookie.Value))
	tests := []struct {
		name   string
		state  string
		cookie *http.Cookie
		want   string
	}{
		{"no cookie", q.Get("state"), nil, "did not start a sign-in"},
		{"other state", "attacker-state", cookie, "state does not match"},
		{"forged cookie", q.Get("state"), &forged, "not valid"},
	}
	for _, tt := range tests {
		if rec := callback(tt.state, tt.cookie); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s: %d %s", tt.name, rec.Code, rec.Body)
		}
	}
	now = now.Add(stateTTL + time.Second)
	if rec := callback(q.Get("state"), cookie); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "too long") {
		t.Errorf("late: %d %s", rec.Code, rec.Body)
	}
}

// The admin API accepts a session only under /admin/, and a
// state-changing request only with the session's CSRF token.
func TestSessionPrincipal(t *testing.T) {
	h := newHandler(t, "https://idp.example", nil)
	rec := httptest.NewRecorder()
	s, err := h.o.Sessions.Start(rec, httptest.NewRequest("GET", "/", nil),
		websession.Identity{Principal: "corp:alice", Role: "admin", Team: "ml", Via: "oidc:corp"})
	if err != nil {
		t.Fatal(err)
	}
	cookie := rec.Result().Cookies()[0]
	req := func(method, path, csrf string) *http.Request {
		r := httptest.NewRequest(method, path, nil)
		r.AddCookie(cookie)
		if csrf != "" {
			r.Header.Set(websession.CSRFHeader, csrf)
		}
		return r
	}
	p, ok, err := h.SessionPrincipal(req("GET", "/admin/keys", ""))
	if !ok || err != nil || p.ID != "corp:alice" || p.Role != "admin" || p.Team != "ml" || p.Kind != auth.KindExternal {
		t.Fatalf("GET: %+v %v %v", p, ok, err)
	}
	if _, ok, _ := h.SessionPrincipal(req("POST", "/v1/chat/completions", s.CSRF)); ok {
		t.Error("a session was accepted outside /admin/")
	}
	if _, ok, err := h.SessionPrincipal(req("DELETE", "/admin/keys/k1", "")); !ok || err == nil {
		t.Errorf("DELETE without CSRF: %v %v", ok, err)
	}
	if _, ok, err := h.SessionPrincipal(req("DELETE", "/admin/keys/k1", s.CSRF)); !ok || err != nil {
		t.Errorf("DELETE with CSRF: %v %v", ok, err)
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{"/console/keys": "/console/keys", "//evil.example": "/console/",
		"https://evil.example": "/console/", "/\\evil": "/console/", "": "/console/", "/admin/keys": "/admin/keys"} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
