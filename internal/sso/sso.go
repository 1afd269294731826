// Package sso signs people in through a trusted external issuer: the
// OpenID Connect authorization code flow with PKCE (RFC 7636) and a nonce,
// ending in a websession the admin API and the console both accept.
//
//	GET  /auth/oidc/login?issuer=NAME&next=/console/   -> the IdP's login page
//	GET  /auth/oidc/callback                            <- the IdP, with a code
//	GET  /auth/oidc/session                             who is signed in, and the CSRF token
//	POST /auth/oidc/logout                              ends the session (CSRF token required)
//
// The login state (state, nonce, PKCE verifier, issuer, where to go next)
// travels in a short-lived cookie sealed with AES-GCM under a key every
// replica shares, so the callback may land on any replica and a callback
// that the browser did not start (login CSRF) is refused. The ID token is
// verified with the issuer's keys (package auth/federation) and its claims
// map to a role and team by the same rules as the issuer's access tokens.
//
// It imports auth (and auth/federation) and websession; the composition
// root mounts it and hands SessionPrincipal to access control.
package sso

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/auth/federation"
	"github.com/dsgate/dsgate/internal/websession"
)

// Paths served.
const (
	Prefix       = "/auth/oidc/"
	LoginPath    = Prefix + "login"
	CallbackPath = Prefix + "callback"
	SessionPath  = Prefix + "session"
	LogoutPath   = Prefix + "logout"
)

// stateTTL bounds the time between leaving for the IdP and coming back.
const stateTTL = 10 * time.Minute

// Provider is an issuer people may sign in with.
type Provider struct {
	Issuer       *federation.Issuer
	ClientID     string
	ClientSecret string   // empty for a public client (PKCE only)
	Scopes       []string // besides openid; default profile, email
}

// Options configure a Handler.
type Options struct {
	Providers []Provider
	Sessions  *websession.Manager
	// BaseURL is dsgate's public base URL; the redirect URL registered at
	// the IdP is BaseURL + CallbackPath.
	BaseURL string
	// StateKey (32 bytes) seals the login-state cookie; every replica
	// needs the same.
	StateKey []byte
	// Insecure drops the Secure flag and __Host- prefix of the login-state
	// cookie, as websession.Options.Insecure does for the session cookie.
	Insecure bool
	Now      func() time.Time
	Logger   *slog.Logger
	// SignedIn, when set, is told of every sign-in attempt that reached
	// the callback, once it is answered: who (nil when it was refused), the
	// status and when it began. The server writes it to the audit trail.
	SignedIn func(r *http.Request, p *auth.Principal, status int, start time.Time)
}

// Handler serves the sign-in endpoints. It is safe for concurrent use.
type Handler struct {
	o         Options
	aead      cipher.AEAD
	providers map[string]*Provider

	mu        sync.Mutex
	endpoints map[string]oauth2.Endpoint // discovered, by issuer name
}

// New returns a Handler.
func New(o Options) (*Handler, error) {
	if o.Sessions == nil || o.BaseURL == "" {
		return nil, errors.New("sso: sessions and base URL are required")
	}
	block, err := aes.NewCipher(o.StateKey)
	if err != nil {
		return nil, fmt.Errorf("sso: state key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{o: o, aead: aead, providers: map[string]*Provider{}, endpoints: map[string]oauth2.Endpoint{}}
	for i := range o.Providers {
		p := &o.Providers[i]
		if p.ClientID == "" {
			return nil, fmt.Errorf("sso: issuer %s: no client id", p.Issuer.Name())
		}
		h.providers[p.Issuer.Name()] = p
	}
	return h, nil
}

// Names lists the issuers people may sign in with, for a sign-in page's
// links (LoginPath?issuer=NAME&next=...).
func (h *Handler) Names() []string {
	out := make([]string, 0, len(h.o.Providers))
	for _, p := range h.o.Providers {
		out = append(out, p.Issuer.Name())
	}
	return out
}

// ServeHTTP implements http.Handler for the paths under Prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case r.URL.Path == LoginPath && r.Method == http.MethodGet:
		h.login(w, r)
	case r.URL.Path == CallbackPath && r.Method == http.MethodGet:
		h.callback(w, r)
	case r.URL.Path == SessionPath && r.Method == http.MethodGet:
		h.session(w, r)
	case r.URL.Path == LogoutPath && r.Method == http.MethodPost:
		h.logout(w, r)
	default:
		page(w, http.StatusNotFound, "Not found", "", "")
	}
}

// loginState is what the login-state cookie seals.
type loginState struct {
	Issuer   string    `json:"iss"`
	State    string    `json:"state"`
	Nonce    string    `json:"nonce"`
	Verifier string    `json:"verifier"`
	Next     string    `json:"next"`
	Expires  time.Time `json:"exp"`
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	p, ok := h.providers[r.URL.Query().Get("issuer")]
	if !ok {
		page(w, http.StatusNotFound, "Unknown identity provider", "No issuer of that name is configured for sign-in.", "")
		return
	}
	cfg, err := h.oauthConfig(r.Context(), p)
	if err != nil {
		h.o.Logger.Warn("sso discovery", "issuer", p.Issuer.Name(), "err", err)
		page(w, http.StatusServiceUnavailable, "Identity provider unavailable", "Try again shortly.", "")
		return
	}
	st := loginState{Issuer: p.Issuer.Name(), State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(),
		Next: safeNext(r.URL.Query().Get("next")), Expires: h.o.Now().Add(stateTTL)}
	sealed, err := h.seal(st)
	if err != nil {
		page(w, http.StatusInternalServerError, "Internal error", "", "")
		return
	}
	http.SetCookie(w, h.stateCookie(sealed, int(stateTTL/time.Second)))
	http.Redirect(w, r, cfg.AuthCodeURL(st.State, oauth2.S256ChallengeOption(st.Verifier),
		oauth2.SetAuthURLParam("nonce", st.Nonce)), http.StatusFound)
}

func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	start := h.o.Now()
	var who *auth.Principal
	status := http.StatusOK
	if h.o.SignedIn != nil {
		defer func() { h.o.SignedIn(r, who, status, start) }()
	}
	st, err := h.readState(r)
	http.SetCookie(w, h.stateCookie("", -1)) // single use, whatever happens
	if err != nil {
		status = http.StatusForbidden
		page(w, status, "Sign-in refused", "Refused: "+err.Error()+". Start again from the sign-in page.", "")
		return
	}
	p := h.providers[st.Issuer]
	if e := r.URL.Query().Get("error"); e != "" {
		status = http.StatusUnauthorized
		page(w, status, "Sign-in refused by the identity provider", e, "")
		return
	}
	signedIn, err := h.exchange(r.Context(), p, r.URL.Query().Get("code"), st)
	if err != nil {
		h.o.Logger.Info("sso sign-in refused", "issuer", st.Issuer, "err", err)
		status = http.StatusUnauthorized
		if errors.Is(err, auth.ErrForbidden) {
			status = http.StatusForbidden
		}
		page(w, status, "Sign-in refused", err.Error(), "")
		return
	}
	if _, err := h.o.Sessions.Start(w, r, websession.Identity{Principal: signedIn.ID, Role: signedIn.Role, Team: signedIn.Team,
		Via: "oidc:" + st.Issuer}); err != nil {
		status = http.StatusInternalServerError
		page(w, status, "Internal error", "", "")
		return
	}
	who = signedIn
	h.o.Logger.Info("sso sign-in", "issuer", st.Issuer, "principal", who.ID, "role", who.Role)
	// A page, not a redirect: the session cookie is SameSite=Strict, and
	// browsers withhold it on a redirect chain that began at the IdP.
	page(w, http.StatusOK, "Signed in", "Continuing to "+st.Next+" ...", st.Next)
}

// exchange redeems the code (with the PKCE verifier), verifies the ID
// token and maps its claims.
func (h *Handler) exchange(ctx context.Context, p *Provider, code string, st loginState) (*auth.Principal, error) {
	if code == "" {
		return nil, fmt.Errorf("%w: no authorization code", auth.ErrUnauthenticated)
	}
	cfg, err := h.oauthConfig(ctx, p)
	if err != nil {
		return nil, err
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.Issuer.HTTPClient())
	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return nil, fmt.Errorf("%w: redeeming the code: %v", auth.ErrUnauthenticated, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: the identity provider returned no ID token", auth.ErrUnauthenticated)
	}
	claims, err := p.Issuer.VerifyIDToken(ctx, raw, p.ClientID, st.Nonce)
	if err != nil {
		return nil, err
	}
	return p.Issuer.Principal(claims)
}

// oauthConfig returns the provider's OAuth2 client, discovering its
// endpoints the first time.
func (h *Handler) oauthConfig(ctx context.Context, p *Provider) (*oauth2.Config, error) {
	name := p.Issuer.Name()
	h.mu.Lock()
	ep, ok := h.endpoints[name]
	h.mu.Unlock()
	if !ok {
		md, err := federation.Discover(ctx, p.Issuer.HTTPClient(), p.Issuer.URL())
		if err != nil {
			return nil, err
		}
		if md.AuthorizationEndpoint == "" || md.TokenEndpoint == "" {
			return nil, errors.New("discovery: no authorization or token endpoint")
		}
		ep = oauth2.Endpoint{AuthURL: md.AuthorizationEndpoint, TokenURL: md.TokenEndpoint}
		h.mu.Lock()
		h.endpoints[name] = ep
		h.mu.Unlock()
	}
	scopes := p.Scopes
	if len(scopes) == 0 {
		scopes = []string{"profile", "email"}
	}
	return &oauth2.Config{ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: ep,
		RedirectURL: strings.TrimRight(h.o.BaseURL, "/") + CallbackPath, Scopes: append([]string{"openid"}, scopes...)}, nil
}

// session answers who is signed in, with the CSRF token state-changing
// admin API calls must send in X-CSRF-Token.
func (h *Handler) session(w http.ResponseWriter, r *http.Request) {
	s, ok := h.o.Sessions.Get(r)
	w.Header().Set("Content-Type", "application/json")
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"message":"not signed in","type":"authentication_error","code":"signed_out"}}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"principal": s.Principal, "role": s.Role, "team": s.Team, "via": s.Via,
		"csrf_token": s.CSRF, "idle_deadline": s.IdleDeadline, "absolute_deadline": s.AbsoluteDeadline})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	s, ok := h.o.Sessions.Get(r)
	if !ok {
		page(w, http.StatusOK, "Signed out", "", "")
		return
	}
	if !h.o.Sessions.CheckCSRF(r, s) {
		page(w, http.StatusForbidden, "Sign-out refused", "The request did not carry this session's CSRF token.", "")
		return
	}
	_ = h.o.Sessions.End(w, r)
	page(w, http.StatusOK, "Signed out", "", safeNext(r.PostFormValue("next")))
}

// SessionPrincipal is the caller of an admin API request that carries no
// credential but a session cookie: the person signed in (by SSO or at
// the console). It reports false when r is not an admin request or has no
// live session. A state-changing request must carry the session's CSRF
// token (X-CSRF-Token or the csrf_token form field), else ErrForbidden.
func (h *Handler) SessionPrincipal(r *http.Request) (*auth.Principal, bool, error) {
	if !strings.HasPrefix(r.URL.Path, "/admin/") {
		return nil, false, nil
	}
	s, ok := h.o.Sessions.Get(r)
	if !ok {
		return nil, false, nil
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if !h.o.Sessions.CheckCSRF(r, s) {
			return nil, true, fmt.Errorf("%w: session request without its CSRF token (send X-CSRF-Token from %s)", auth.ErrForbidden, SessionPath)
		}
	}
	name, _, _ := strings.Cut(s.Principal, ":")
	return &auth.Principal{ID: s.Principal, Kind: auth.KindExternal, Name: strings.TrimPrefix(s.Principal, name+":"),
		Role: s.Role, Team: s.Team}, true, nil
}

func (h *Handler) stateCookie(value string, maxAge int) *http.Cookie {
	name := "__Host-dsgate_oidc"
	if h.o.Insecure {
		name = "dsgate_oidc"
	}
	// Lax, not Strict: the callback is a cross-site navigation from the IdP.
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: !h.o.Insecure, SameSite: http.SameSiteLaxMode}
}

func (h *Handler) readState(r *http.Request) (loginState, error) {
	var st loginState
	c, err := r.Cookie(h.stateCookie("", 0).Name)
	if err != nil || c.Value == "" {
		return st, errors.New("this browser did not start a sign-in (no login state)")
	}
	st, err = h.open(c.Value)
	if err != nil {
		return st, errors.New("the login state is not valid")
	}
	if !h.o.Now().Before(st.Expires) {
		return st, errors.New("the sign-in took too long")
	}
	got := r.URL.Query().Get("state")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(st.State)) != 1 {
		return st, errors.New("the state does not match the sign-in this browser started")
	}
	if _, ok := h.providers[st.Issuer]; !ok {
		return st, errors.New("the identity provider is no longer configured")
	}
	return st, nil
}

func (h *Handler) seal(st loginState) (string, error) {
	plain, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, h.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(h.aead.Seal(nonce, nonce, plain, []byte("dsgate-oidc-state"))), nil
}

func (h *Handler) open(s string) (loginState, error) {
	var st loginState
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < h.aead.NonceSize() {
		return st, errors.New("malformed")
	}
	n := h.aead.NonceSize()
	plain, err := h.aead.Open(nil, b[:n], b[n:], []byte("dsgate-oidc-state"))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(plain, &st)
}

func random() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// safeNext is where to go after sign-in: a path on this site, never
// another site ("//evil", "https://evil").
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>{{.Title}} - dsgate</title>
{{if .Next}}<meta http-equiv="refresh" content="0;url={{.Next}}">{{end}}</head>
<body><h1>{{.Title}}</h1>{{if .Detail}}<p id="detail">{{.Detail}}</p>{{end}}
{{if .Next}}<p><a href="{{.Next}}">Continue</a></p>{{end}}</body></html>
`))

// page writes a minimal HTML page (the sign-in endpoints talk to
// browsers); with next, the browser moves on to it at once.
func page(w http.ResponseWriter, status int, title, detail, next string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_ = pageTmpl.Execute(w, struct{ Title, Detail, Next string }{title, detail, next})
}
