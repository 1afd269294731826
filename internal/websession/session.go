package websession

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"time"
)

// CookieName is the session cookie's name. The __Host- prefix makes browsers
// refuse it unless it is Secure, has Path=/ and no Domain, so a sibling
// subdomain cannot plant or overwrite it.
const CookieName = "__Host-dsgate_session"

// CSRFField is the form field, and CSRFHeader the header, that carry the
// session's CSRF token on a state-changing request.
const (
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
)

// Default timeouts, used when Options leaves them zero.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
)

// Identity is who signs in: the principal (key id, client id or the OIDC
// subject), the role that decides what they see, their team (may be empty)
// and how they signed in ("api_key", "oidc:<issuer>", ...).
type Identity struct {
	Principal string
	Role      string
	Team      string
	Via       string
}

// Session is one signed-in person. Values returned by Manager are copies;
// changing them changes nothing stored.
type Session struct {
	Identity
	// CSRF is the token forms and scripts send back on state-changing
	// requests; it is random per session and never leaves through a cookie.
	CSRF string
	// Created is the sign-in time; LastSeen the last request's.
	Created  time.Time
	LastSeen time.Time
	// IdleDeadline and AbsoluteDeadline: the session ends at the earlier.
	IdleDeadline     time.Time
	AbsoluteDeadline time.Time

	key string // SHA-256 of the id, hex: the store's key
}

// Expired reports whether the session has ended at now.
func (s *Session) Expired(now time.Time) bool {
	return !now.Before(s.IdleDeadline) || !now.Before(s.AbsoluteDeadline)
}

// Options configure a Manager.
type Options struct {
	// IdleTimeout ends a session this long after its last request;
	// AbsoluteTimeout this long after sign-in, however active.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// Store keeps the sessions; nil means a new MemoryStore.
	Store Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Insecure drops the Secure attribute and the __Host- prefix (the
	// cookie is then "dsgate_session"). Only for tests and plain-HTTP
	// development on a loopback address; browsers refuse a __Host- cookie
	// without Secure.
	Insecure bool
}

// Manager starts, finds and ends sessions. It is safe for concurrent use.
type Manager struct {
	idle, absolute time.Duration
	store          Store
	now            func() time.Time
	insecure       bool
}

// New returns a Manager with the options' defaults filled in.
func New(o Options) *Manager {
	m := &Manager{idle: o.IdleTimeout, absolute: o.AbsoluteTimeout, store: o.Store, now: o.Now, insecure: o.Insecure}
	if m.idle <= 0 {
		m.idle = DefaultIdleTimeout
	}
	if m.absolute <= 0 {
		m.absolute = DefaultAbsoluteTimeout
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.store == nil {
		m.store = NewMemoryStore(m.now)
	}
	return m
}

// Cookie returns the name of the session cookie this Manager sets.
func (m *Manager) Cookie() string {
	if m.insecure {
		return "dsgate_session"
	}
	return CookieName
}

// Start signs a person in: it ends the session the request presents (if
// any), stores a new one under a fresh random id and sets the cookie. The
// id is never taken from the request, which is what defeats session
// fixation.
func (m *Manager) Start(w http.ResponseWriter, r *http.Request, id Identity) (*Session, error) {
	if old, err := r.Cookie(m.Cookie()); err == nil {
		_ = m.store.Delete(r.Context(), keyOf(old.Value))
	}
	raw, err := randomToken()
	if err != nil {
		return nil, err
	}
	csrf, err := randomToken()
	if err != nil {
		return nil, err
	}
	now := m.now()
	s := &Session{
		Identity: id, CSRF: csrf, Created: now, LastSeen: now,
		IdleDeadline: now.Add(m.idle), AbsoluteDeadline: now.Add(m.absolute),
		key: keyOf(raw),
	}
	if s.IdleDeadline.After(s.AbsoluteDeadline) {
		s.IdleDeadline = s.AbsoluteDeadline
	}
	if err := m.store.Put(r.Context(), s.key, *s); err != nil {
		return nil, err
	}
	http.SetCookie(w, m.cookie(raw, s.AbsoluteDeadline))
	return s, nil
}

// Get returns the request's live session and slides its idle deadline. It
// reports false for no cookie, an unknown id or an expired session (which
// it deletes).
func (m *Manager) Get(r *http.Request) (*Session, bool) {
	c, err := r.Cookie(m.Cookie())
	if err != nil || c.Value == "" {
		return nil, false
	}
	return m.lookup(r.Context(), keyOf(c.Value))
}

func (m *Manager) lookup(ctx context.Context, key string) (*Session, bool) {
	s, ok, err := m.store.Get(ctx, key)
	if err != nil || !ok {
		return nil, false
	}
	now := m.now()
	if s.Expired(now) {
		_ = m.store.Delete(ctx, key)
		return nil, false
	}
	s.key = key
	s.LastSeen = now
	s.IdleDeadline = now.Add(m.idle)
	if s.IdleDeadline.After(s.AbsoluteDeadline) {
		s.IdleDeadline = s.AbsoluteDeadline
	}
	if err := m.store.Put(ctx, key, s); err != nil {
		return nil, false
	}
	return &s, true
}

// CheckCSRF reports whether the request carries the session's CSRF token in
// the X-CSRF-Token header or the csrf_token form field (compared in constant
// time). Call it on every state-changing request, whatever its method.
func (m *Manager) CheckCSRF(r *http.Request, s *Session) bool {
	if s == nil || s.CSRF == "" {
		return false
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		got = r.PostFormValue(CSRFField)
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.CSRF)) == 1
}

// End signs the request's session out: it deletes the stored session and
// tells the browser to drop the cookie. Ending with no session is not an
// error.
func (m *Manager) End(w http.ResponseWriter, r *http.Request) error {
	var err error
	if c, cerr := r.Cookie(m.Cookie()); cerr == nil && c.Value != "" {
		err = m.store.Delete(r.Context(), keyOf(c.Value))
	}
	expired := m.cookie("", time.Unix(0, 0))
	expired.MaxAge = -1
	http.SetCookie(w, expired)
	return err
}

func (m *Manager) cookie(value string, expires time.Time) *http.Cookie {
	return &http.Cookie{
		Name: m.Cookie(), Value: value, Path: "/", Expires: expires,
		HttpOnly: true, Secure: !m.insecure, SameSite: http.SameSiteStrictMode,
	}
}

// ErrRandom is returned when the system's random source fails.
var ErrRandom = errors.New("websession: reading random bytes")

func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", errors.Join(ErrRandom, err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// keyOf is the store key for a session id: its SHA-256 in hex.
func keyOf(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}
