package auth

import (
	"context"
	"net/http"
	"time"
)

// Kind says how a principal authenticated.
type Kind string

// Principal kinds.
const (
	KindKey    Kind = "key"    // an API key
	KindClient Kind = "client" // an OAuth2 client, by access token
	KindMTLS   Kind = "mtls"   // a client certificate (reserved; not built here)
	// KindExternal is a caller with a token from a trusted external issuer
	// (a company IdP, a Kubernetes cluster); its ID is "<issuer name>:<subject>".
	KindExternal Kind = "external"
)

// Principal is the authenticated caller. Transports attach it to the
// request scope for authorization, rate limiting, audit, metrics and usage.
// A Principal is shared between requests through caches: treat it as
// read-only.
type Principal struct {
	ID            string // key public id, client id, or "<issuer name>:<subject>"
	Kind          Kind
	Name          string
	Role          string
	Models        []string // allow-list patterns; empty means the role decides
	RPM           int64    // 0 means the configured default
	TPM           int64    // 0 means the configured default
	MaxConcurrent int64    // 0 means the configured default
	Scopes        []string // OAuth2 scopes granted to the token, if any
	TokenID       string   // jti of the access token, if any
	Issuer        string   // token issuer, if any
	// Team is the team an external issuer's claim mapping assigned; ""
	// means the store's team membership decides.
	Team      string
	ExpiresAt time.Time
}

// LimitKey is the key under which rate limits are counted: "key:<id>" or
// "client:<id>".
func (p *Principal) LimitKey() string { return string(p.Kind) + ":" + p.ID }

// Authenticator identifies the caller of an HTTP request. Implementations
// are safe for concurrent use. A nil Principal is returned with every error;
// the error wraps ErrUnauthenticated when the credential is missing or bad,
// and anything else when the check itself failed (store down).
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request) (*Principal, error)
}
