package server

import (
	"crypto/sha256"
	"log/slog"
	"net/http"
	"strings"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/sso"
	"github.com/dsgate/dsgate/internal/websession"
)

// webSessions returns the browser-session manager the console and single
// sign-on share (one cookie, one store), made on first use with the
// console's session settings.
func (c *core) webSessions(cfg *config.Config) *websession.Manager {
	if c.sessions == nil {
		cc := cfg.Console
		c.sessions = websession.New(websession.Options{IdleTimeout: cc.SessionIdleTimeout,
			AbsoluteTimeout: cc.SessionAbsoluteTimeout, Insecure: cc.InsecureCookie})
	}
	return c.sessions
}

// buildSSO builds sign-in through the issuers with auth.issuers[].sso set;
// nil when none has. kek is the signing-key encryption key: every replica
// has it, so the login state sealed under a key derived from it opens on
// any replica.
func (c *core) buildSSO(cfg *config.Config, kek []byte, log *slog.Logger) error {
	var providers []sso.Provider
	for _, is := range cfg.Auth.Issuers {
		if is.SSO.ClientID == "" || c.federation == nil {
			continue
		}
		iss, _ := c.federation.Issuer(is.Name)
		providers = append(providers, sso.Provider{Issuer: iss, ClientID: is.SSO.ClientID,
			ClientSecret: is.SSO.ClientSecret.Value(), Scopes: is.SSO.Scopes})
	}
	if len(providers) == 0 {
		return nil
	}
	key := sha256.Sum256(append([]byte("dsgate sso login state\x00"), kek...))
	h, err := sso.New(sso.Options{Providers: providers, Sessions: c.webSessions(cfg), BaseURL: cfg.Auth.Issuer,
		StateKey: key[:], Insecure: cfg.Console.InsecureCookie, Logger: log, SignedIn: c.auditAction("SSO ")})
	if err != nil {
		return err
	}
	c.sso = h
	return nil
}

// withSSO serves the sign-in endpoints under /auth/oidc/ beside the API.
func withSSO(api http.Handler, h *sso.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, sso.Prefix) {
			h.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}
