package websession

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newManager(t *testing.T) (*Manager, *clock) {
	t.Helper()
	c := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	return New(Options{IdleTimeout: 10 * time.Minute, AbsoluteTimeout: time.Hour, Now: c.Now}), c
}

// signIn starts a session for r and returns the Set-Cookie it wrote.
func signIn(t *testing.T, m *Manager, r *http.Request) (*Session, *http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	s, err := m.Start(w, r, Identity{Principal: "key_1", Role: "admin", Team: "t", Via: "api_key"})
	if err != nil {
		t.Fatal(err)
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("cookies = %v, want one", cs)
	}
	return s, cs[0]
}

func withCookie(c *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/console/", nil)
	r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	return r
}

func TestCookieAttributes(t *testing.T) {
	m, _ := newManager(t)
	_, c := signIn(t, m, httptest.NewRequest(http.MethodPost, "/console/login", nil))
	if c.Name != "__Host-dsgate_session" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie = %+v", c)
	}
	if len(c.Value) != 43 { // 32 bytes, base64url without padding
		t.Fatalf("id %q is not 256 bits", c.Value)
	}
}

func TestGetAndIdentity(t *testing.T) {
	m, _ := newManager(t)
	s, c := signIn(t, m, httptest.NewRequest(http.MethodPost, "/", nil))
	got, ok := m.Get(withCookie(c))
	if !ok || got.Principal != "key_1" || got.Role != "admin" || got.Team != "t" || got.Via != "api_key" || got.CSRF != s.CSRF {
		t.Fatalf("Get = %+v, %v", got, ok)
	}
	if _, ok := m.Get(httptest.NewRequest(http.MethodGet, "/", nil)); ok {
		t.Fatal("no cookie gave a session")
	}
	bogus := &http.Cookie{Name: c.Name, Value: strings.Repeat("A", 43)}
	if _, ok := m.Get(withCookie(bogus)); ok {
		t.Fatal("unknown id gave a session")
	}
}

func TestStoreKeepsOnlyHashOfID(t *testing.T) {
	ms := NewMemoryStore(nil)
	m := New(Options{Store: ms})
	_, c := signIn(t, m, httptest.NewRequest(http.MethodPost, "/", nil))
	for k := range ms.sessions {
		if strings.Contains(k, c.Value) || k != keyOf(c.Value) {
			t.Fatalf("store key %q reveals or does not match the id", k)
		}
	}
}

func TestIdleTimeoutSlides(t *testing.T) {
	m, clk := newManager(t)
	_, c := signIn(t, m, httptest.NewRequest(http.MethodPost, "/", nil))
	for range 5 { // 5 x 9 min: alive because each request slides the idle deadline
		clk.Add(9 * time.Minute)
		if _, ok := m.Get(withCookie(c)); !ok {
			t.Fatal("active session ended")
		}
	}
	clk.Add(10 * time.Minute)
	if _, ok := m.Get(withCookie(c)); ok {
		t.Fatal("idle session still alive")
	}
}

func TestAbsoluteTimeout(t *testing.T) {
	m, clk := newManager(t)
	_, c := signIn(t, m, httptest.NewRequest(http.MethodPost, "/", nil))
	for range 6 {
		clk.Add(9 * time.Minute)
		m.Get(withCookie(c))
	}
	clk.Add(7 * time.Minute) // 61 min after sign-in, 7 min after the last request
	if _, ok := m.Get(withCookie(c)); ok {
		t.Fatal("session outlived the absolute timeout")
	}
}

// A session id planted in the browser before sign-in (session fixation) is
// not adopted: sign-in issues a new id and the planted one stays invalid.
func TestSignInRotatesID(t *testing.T) {
	m, _ := newManager(t)
	_, first := signIn(t, m, httptest.NewRequest(http.MethodPost, "/", nil))
	// The attacker's own valid session id, planted in the victim's browser.
	r := httptest.NewRequest(http.MethodPost, "/console/login", nil)
	r.AddCookie(&http.Cookie{Name: first.Name, Value: first.Value})
	_, second := signIn(t, m, r)
	if second.Value == first.Value {
		t.Fatal("sign-in kept the presented id")
	}
	if _, ok := m.Get(withCookie(first)); ok {
		t.Fatal("the id presented at sign-in still works")
	}
	if _, ok := m.Get(withCookie(second)); !ok {
		t.Fatal("new session does not work")
	}
	// An id the server never issued is never stored either.
	planted := httptest.NewRequest(http.MethodPost, "/console/login", nil)
	planted.AddCookie(&http.Cookie{Name: CookieName, Value: "attacker-chosen"})
	_, third := signIn(t, m, planted)
	if third.Value == "attacker-chosen" {
		t.Fatal("sign-in adopted a planted id")
	}
	if _, ok := m.Get(withCookie(&http.Cookie{Name: CookieName, Value: "attacker-chosen"})); ok {
		t.Fatal("planted id works")
	}
}

func TestCheckCSRF(t *testing.T) {
	m, _ := newManager(t)
	s, _ := signIn(t, m, httptest.NewRequest(http.MethodPost, "/", nil))
	form := func(v string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(url.Values{CSRFField: {v}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	header := func(v string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set(CSRFHeader, v)
		return r
	}
	query := httptest.NewRequest(http.MethodPost, "/?"+CSRFField+"="+url.QueryEscape(s.CSRF), nil)
	other, _ := signIn(t, m, httptest.NewRequest(http.MethodPost, "/", nil))
	// The token with its first character changed (replacing it with "x"
	// made the right token for one in 64 tokens, which begin with "x").
	wrong := []byte(s.CSRF)
	wrong[0] ^= 1
	tests := []struct {
		name string
		r    *http.Request
		s    *Session
		want bool
	}{
		{"form field", form(s.CSRF), s, true},
		{"header", header(s.CSRF), s, true},
		{"missing", httptest.NewRequest(http.MethodPost, "/", nil), s, false},
		{"wrong", form(string(wrong)), s, false},
		{"empty", form(""), s, false},
		{"another session's token", form(other.CSRF), s, false},
		{"query string is not accepted", query, s, false},
		{"no session", form(s.CSRF), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := m.CheckCSRF(tt.r, tt.s); got != tt.want {
				t.Fatalf("CheckCSRF = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEnd(t *testing.T) {
	m, _ := newManager(t)
	_, c := signIn(t, m, httptest.NewRequest(http.MethodPost, "/", nil))
	w := httptest.NewRecorder()
	if err := m.End(w, withCookie(c)); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Get(withCookie(c)); ok {
		t.Fatal("session alive after End")
	}
	cs := w.Result().Cookies()
	if len(cs) != 1 || cs[0].MaxAge >= 0 || cs[0].Name != CookieName {
		t.Fatalf("End did not clear the cookie: %v", cs)
	}
	if err := m.End(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", nil)); err != nil {
		t.Fatalf("End without a session: %v", err)
	}
}

func TestMemoryStoreSweeps(t *testing.T) {
	m, clk := newManager(t)
	ms := m.store.(*MemoryStore)
	signIn(t, m, httptest.NewRequest(http.MethodPost, "/", nil))
	clk.Add(2 * time.Hour)
	for range sweepEvery {
		signIn(t, m, httptest.NewRequest(http.MethodPost, "/", nil))
	}
	if n := ms.Len(); n != sweepEvery {
		t.Fatalf("store holds %d sessions, want %d (the ended one swept)", n, sweepEvery)
	}
}

func TestInsecureCookie(t *testing.T) {
	m := New(Options{Insecure: true})
	_, c := signIn(t, m, httptest.NewRequest(http.MethodPost, "/", nil))
	if c.Name != "dsgate_session" || c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Fatalf("cookie = %+v", c)
	}
	if _, ok := m.Get(withCookie(c)); !ok {
		t.Fatal("insecure session not found")
	}
}

func TestConcurrentUse(t *testing.T) {
	m, _ := newManager(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				_, c := signIn(t, m, httptest.NewRequest(http.MethodPost, "/", nil))
				m.Get(withCookie(c))
				_ = m.End(httptest.NewRecorder(), withCookie(c))
			}
		})
	}
	wg.Wait()
}
