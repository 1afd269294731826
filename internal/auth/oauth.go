package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/store"
)

// OAuthServerOptions configures an OAuthServer.
type OAuthServerOptions struct {
	// Issuer is dsgate's public base URL (e.g. https://gw.example.com); it
	// is the iss claim and the prefix of every endpoint in the metadata.
	Issuer   string
	Audience string        // aud claim of issued tokens
	TokenTTL time.Duration // default 1h
	Clients  ClientLookup
	Keys     *SigningKeys
	Verifier *TokenVerifier // for introspection and revocation
	Revoker  TokenRevoker   // *RevocationList
	// Policy is the current RBAC policy (it follows reloads). A client
	// whose role may read admin.clients may introspect any client's
	// token; every other client only its own. Nil: only its own.
	Policy func() *Policy
	// Failures limits failed client authentications per address (shared
	// with the API's Chain); nil: no limit.
	Failures *FailureLimiter
	// MaxVerifications is how many argon2id secret checks run at once
	// (each holds the hash's memory, 19 MiB by default), in each of two
	// lanes: known client ids and unknown ones (checked against a dummy
	// hash); default 2, so at most 4 in all.
	MaxVerifications int
	// MaxQueuedVerifications is how many more may wait for a slot in each
	// lane; beyond it requests are refused at once with 503; default 16.
	MaxQueuedVerifications int
	// MaxVerificationsPerAddress bounds the running and waiting checks of
	// one client address (429 beyond); default 2.
	MaxVerificationsPerAddress int
	// MaxVerificationsPerClient bounds the running and waiting checks of
	// one known client id (503 beyond), so wrong secrets for one client
	// from many addresses leave room for the others; default
	// MaxVerifications-1 (at least 1).
	MaxVerificationsPerClient int
	// VerificationWait bounds the wait for a slot; default 2s.
	VerificationWait time.Duration
	Clock            func() time.Time
	Logger           *slog.Logger
}

// TokenRevoker records a revoked token id until the token's expiry.
type TokenRevoker interface {
	Revoke(ctx context.Context, jti string, expiresAt time.Time) error
}

// OAuthServer serves the OAuth2 client-credentials endpoints:
//
//	POST /oauth2/token                         RFC 6749 §4.4
//	POST /oauth2/introspect                    RFC 7662
//	POST /oauth2/revoke                        RFC 7009
//	GET  /.well-known/jwks.json                RFC 7517
//	GET  /.well-known/oauth-authorization-server  RFC 8414
//
// Clients authenticate with client_secret_basic or client_secret_post.
// Introspection tells a token's claims only to the client it was issued
// to or to a client whose role may read admin.clients; anyone else gets
// {"active":false}, as revocation leaves other clients' tokens alone.
type OAuthServer struct {
	opts OAuthServerOptions
	mux  *http.ServeMux
	// dummyHash is verified against for unknown client ids so a miss costs
	// the same time as a wrong secret.
	dummyHash string
	// gates bound the secret checks: [0] for unknown client ids, [1] for
	// known ones, so a flood of made-up ids does not hold up real clients.
	gates    [2]*verifyGate
	verified *verifiedSecrets
	// verify checks a secret against a PHC string: VerifySecret (tests
	// observe it).
	verify func(phc, secret string) (bool, error)
}

// Paths served by OAuthServer, for mounting.
var OAuthPaths = []string{"/oauth2/token", "/oauth2/introspect", "/oauth2/revoke",
	"/.well-known/jwks.json", "/.well-known/oauth-authorization-server"}

// NewOAuthServer returns the handler.
func NewOAuthServer(opts OAuthServerOptions) (*OAuthServer, error) {
	if opts.Issuer == "" || opts.Audience == "" || opts.Clients == nil || opts.Keys == nil ||
		opts.Verifier == nil || opts.Revoker == nil {
		return nil, errors.New("oauth server: issuer, audience, clients, keys, verifier and revoker are required")
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxVerifications <= 0 {
		opts.MaxVerifications = 2
	}
	if opts.MaxQueuedVerifications <= 0 {
		opts.MaxQueuedVerifications = 16
	}
	if opts.MaxVerificationsPerAddress <= 0 {
		opts.MaxVerificationsPerAddress = 2
	}
	if opts.MaxVerificationsPerClient <= 0 {
		opts.MaxVerificationsPerClient = max(1, opts.MaxVerifications-1)
	}
	if opts.VerificationWait <= 0 {
		opts.VerificationWait = 2 * time.Second
	}
	dummy := unmatchableHash(DefaultArgon2)
	verified, err := newVerifiedSecrets(10000, 10*time.Minute)
	if err != nil {
		return nil, err
	}
	s := &OAuthServer{opts: opts, mux: http.NewServeMux(), dummyHash: dummy, verified: verified, verify: VerifySecret}
	s.gates[0] = newVerifyGate(opts.MaxVerifications, opts.MaxQueuedVerifications, opts.MaxVerificationsPerAddress, 0, opts.VerificationWait)
	s.gates[1] = newVerifyGate(opts.MaxVerifications, opts.MaxQueuedVerifications, opts.MaxVerificationsPerAddress,
		opts.MaxVerificationsPerClient, opts.VerificationWait)
	s.mux.HandleFunc("POST /oauth2/token", s.token)
	s.mux.HandleFunc("POST /oauth2/introspect", s.introspect)
	s.mux.HandleFunc("POST /oauth2/revoke", s.revoke)
	s.mux.HandleFunc("GET /.well-known/jwks.json", s.jwks)
	s.mux.HandleFunc("GET /.well-known/oauth-authorization-server", s.metadata)
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *OAuthServer) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	status      int
	code        string
	description string
	basic       bool          // the client used HTTP Basic: answer with a Basic challenge
	retryAfter  time.Duration // sent as Retry-After when set
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

func (s *OAuthServer) fail(w http.ResponseWriter, e *oauthError) {
	if e.code == "invalid_client" {
		e.status = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Basic realm="dsgate", charset="UTF-8"`)
	}
	if e.status == 0 {
		e.status = http.StatusBadRequest
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(e.retryAfter.Seconds())), 10))
	}
	body := map[string]string{"error": e.code}
	if e.description != "" {
		body["error_description"] = e.description
	}
	writeJSON(w, e.status, body)
}

// parseForm reads an application/x-www-form-urlencoded body and rejects
// repeated parameters (RFC 6749 §3.2) and credentials in the query string.
func parseForm(r *http.Request) (url.Values, *oauthError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, &oauthError{code: "invalid_request", description: "body must be application/x-www-form-urlencoded"}
	}
	if q := r.URL.Query(); q.Has("client_secret") || q.Has("client_id") {
		return nil, &oauthError{code: "invalid_request", description: "credentials must not be sent in the query string"}
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return nil, &oauthError{code: "invalid_request", description: "malformed form body"}
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, &oauthError{code: "invalid_request", description: "repeated parameter " + k}
		}
	}
	return r.PostForm, nil
}

// authenticateClient applies client_secret_basic or client_secret_post.
func (s *OAuthServer) authenticateClient(ctx context.Context, r *http.Request, form url.Values) (store.Client, *oauthError) {
	id, secret, basic := r.BasicAuth()
	if basic {
		if form.Has("client_secret") {
			return store.Client{}, &oauthError{code: "invalid_request", description: "more than one client authentication method"}
		}
		// RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return store.Client{}, &oauthError{code: "invalid_client", description: "malformed basic credentials", basic: true}
		}
	} else if r.Header.Get("Authorization") != "" {
		return store.Client{}, &oauthError{code: "invalid_client", description: "unsupported authentication scheme"}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	bad := &oauthError{code: "invalid_client", description: "client authentication failed", basic: basic}
	if id == "" || secret == "" {
		return store.Client{}, bad
	}
	addr := r.RemoteAddr
	var rl *ratelimit.Error
	// An address over its failure limit is refused before any lookup,
	// unless it presents a secret that passed recently.
	if err := s.opts.Failures.Check(addr); errors.As(err, &rl) && !s.verified.matches(id, secret) {
		return store.Client{}, &oauthError{status: http.StatusTooManyRequests, code: "temporarily_unavailable",
			description: "too many failed client authentications from this address", retryAfter: rl.RetryAfter}
	}
	var c store.Client
	var err error
	if validClientID(id) {
		c, err = s.opts.Clients.Client(ctx, id)
	} else {
		err = store.ErrNotFound // no stored id has control characters: an unknown client, counted as a failure
	}
	hash := c.SecretHash
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.opts.Logger.Error("reading oauth client", "err", err)
			return store.Client{}, &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable"}
		}
		hash = s.dummyHash
	}
	ok, oerr := s.checkSecret(ctx, addr, id, hash, secret, err == nil)
	if oerr != nil {
		return store.Client{}, oerr
	}
	if err != nil || !ok || !c.RevokedAt.IsZero() {
		s.opts.Failures.Fail(addr)
		return store.Client{}, bad
	}
	return c, nil
}

// checkSecret verifies secret against hash: at once when it passed
// recently, else inside the verification gate of its lane.
func (s *OAuthServer) checkSecret(ctx context.Context, addr, id, hash, secret string, known bool) (bool, *oauthError) {
	if known && s.verified.known(id, hash, secret) {
		return true, nil
	}
	lane := 0
	if known {
		lane = 1
	}
	release, err := s.gates[lane].enter(ctx, addr, id)
	switch {
	case errors.Is(err, errVerifyAddrBusy):
		return false, &oauthError{status: http.StatusTooManyRequests, code: "temporarily_unavailable",
			description: err.Error(), retryAfter: time.Second}
	case err != nil:
		return false, &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable",
			description: errVerifyBusy.Error(), retryAfter: time.Second}
	}
	ok, verr := s.verify(hash, secret)
	release()
	if verr != nil {
		if known {
			s.opts.Logger.Error("verifying oauth client secret", "client_id", id, "err", verr)
		}
		return false, nil
	}
	if ok && known {
		s.verified.remember(id, hash, secret)
	}
	return ok, nil
}

func (s *OAuthServer) token(w http.ResponseWriter, r *http.Request) {
	form, oerr := parseForm(r)
	if oerr != nil {
		s.fail(w, oerr)
		return
	}
	c, oerr := s.authenticateClient(r.Context(), r, form)
	if oerr != nil {
		s.fail(w, oerr)
		return
	}
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		s.fail(w, &oauthError{code: "invalid_request", description: "grant_type is required"})
		return
	default:
		s.fail(w, &oauthError{code: "unsupported_grant_type", description: "only client_credentials is supported"})
		return
	}
	scopes := strings.Fields(form.Get("scope"))
	if len(scopes) == 0 {
		scopes = c.Scopes
	}
	for _, sc := range scopes {
		if !slices.Contains(c.Scopes, sc) {
			s.fail(w, &oauthError{code: "invalid_scope", description: "scope not allowed for this client"})
			return
		}
	}
	now := s.opts.Clock()
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		s.fail(w, &oauthError{status: http.StatusInternalServerError, code: "server_error"})
		return
	}
	claims := AccessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.opts.Issuer, Subject: c.ID, Audience: jwt.ClaimStrings{s.opts.Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(s.opts.TokenTTL)), IssuedAt: jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now), ID: hex.EncodeToString(jti[:]),
		},
		ClientID: c.ID,
		Scope:    strings.Join(scopes, " "),
	}
	signed, err := s.opts.Keys.Sign(claims)
	if err != nil {
		s.opts.Logger.Error("signing access token", "err", err)
		s.fail(w, &oauthError{status: http.StatusInternalServerError, code: "server_error"})
		return
	}
	resp := map[string]any{"access_token": signed, "token_type": "Bearer", "expires_in": int64(s.opts.TokenTTL / time.Second)}
	if claims.Scope != "" {
		resp["scope"] = claims.Scope
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *OAuthServer) introspect(w http.ResponseWriter, r *http.Request) {
	form, oerr := parseForm(r)
	if oerr != nil {
		s.fail(w, oerr)
		return
	}
	c, oerr := s.authenticateClient(r.Context(), r, form)
	if oerr != nil {
		s.fail(w, oerr)
		return
	}
	tok := form.Get("token")
	if tok == "" {
		s.fail(w, &oauthError{code: "invalid_request", description: "token is required"})
		return
	}
	claims, err := s.opts.Verifier.Verify(r.Context(), tok)
	if err == nil && claims.ClientID != c.ID && !s.introspectsAny(c) {
		// RFC 7662 §4: a caller not authorized to learn about the token
		// is told only that it is not active.
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	if err != nil {
		if !errors.Is(err, ErrUnauthenticated) {
			s.opts.Logger.Error("introspecting token", "err", err)
			s.fail(w, &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"active": false})
		return
	}
	resp := map[string]any{
		"active": true, "client_id": claims.ClientID, "sub": claims.Subject, "iss": claims.Issuer,
		"aud": claims.Audience, "jti": claims.ID, "token_type": "Bearer", "exp": claims.ExpiresAt.Unix(),
	}
	if claims.Scope != "" {
		resp["scope"] = claims.Scope
	}
	if claims.IssuedAt != nil {
		resp["iat"] = claims.IssuedAt.Unix()
	}
	if claims.NotBefore != nil {
		resp["nbf"] = claims.NotBefore.Unix()
	}
	writeJSON(w, http.StatusOK, resp)
}

// introspectsAny reports whether client c may introspect tokens issued to
// other clients: its role must allow reading admin.clients.
func (s *OAuthServer) introspectsAny(c store.Client) bool {
	if s.opts.Policy == nil {
		return false
	}
	pol := s.opts.Policy()
	return pol != nil && pol.Allow(&Principal{ID: c.ID, Kind: KindClient, Role: c.Role}, ResourceAdminClients, ActionRead, "") == nil
}

func (s *OAuthServer) revoke(w http.ResponseWriter, r *http.Request) {
	form, oerr := parseForm(r)
	if oerr != nil {
		s.fail(w, oerr)
		return
	}
	c, oerr := s.authenticateClient(r.Context(), r, form)
	if oerr != nil {
		s.fail(w, oerr)
		return
	}
	tok := form.Get("token")
	if tok == "" {
		s.fail(w, &oauthError{code: "invalid_request", description: "token is required"})
		return
	}
	// RFC 7009 §2.2: invalid or unknown tokens get 200 as well. A token
	// issued to another client is left alone, also with 200, so the
	// endpoint does not reveal which tokens are valid.
	claims, err := s.opts.Verifier.Verify(r.Context(), tok)
	if err == nil && claims.ClientID == c.ID && claims.Issuer == s.opts.Issuer {
		if err := s.opts.Revoker.Revoke(r.Context(), claims.ID, claims.ExpiresAt.Time); err != nil {
			s.opts.Logger.Error("revoking token", "err", err)
			w.Header().Set("Retry-After", "1")
			s.fail(w, &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable"})
			return
		}
		s.opts.Logger.Info("access token revoked", "client_id", c.ID, "jti", claims.ID)
	} else if err != nil && !errors.Is(err, ErrUnauthenticated) {
		s.opts.Logger.Error("checking token for revocation", "err", err)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
}

func (s *OAuthServer) jwks(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.opts.Keys.JWKS())
}

func (s *OAuthServer) metadata(w http.ResponseWriter, _ *http.Request) {
	base := trimSlash(s.opts.Issuer)
	doc := map[string]any{
		"issuer":                                base,
		"token_endpoint":                        base + "/oauth2/token",
		"introspection_endpoint":                base + "/oauth2/introspect",
		"revocation_endpoint":                   base + "/oauth2/revoke",
		"jwks_uri":                              base + "/.well-known/jwks.json",
		"grant_types_supported":                 []string{"client_credentials"},
		"response_types_supported":              []string{},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post"},
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_ = json.NewEncoder(w).Encode(doc)
}

// validClientID reports whether id could name a stored client: short,
// valid UTF-8, no control characters. Anything else is an unknown client
// without a store read (PostgreSQL refuses NUL with an error).
func validClientID(id string) bool {
	return len(id) <= 256 && utf8.ValidString(id) && !strings.ContainsFunc(id, unicode.IsControl)
}

func trimSlash(s string) string {
	return strings.TrimRight(s, "/")
}
