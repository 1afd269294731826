// Package access admits inference calls: who the caller is (authenticate),
// whether it may do this to this model (authorize), and whether its limits
// allow it now (rate limit); afterwards it settles the tokens actually used
// and records usage. HTTP and gRPC both call it, so the two APIs enforce
// exactly the same rules; the transports only extract the credential and
// render the errors.
//
// It imports auth, ratelimit, usage and openai; nothing imports it but the
// transports and the composition root.
package access

import (
	"context"
	"crypto/tls"
	"errors"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/tlsconf"
	"github.com/dsgate/dsgate/internal/usage"
)

// Authenticator turns a bearer credential into a principal.
type Authenticator interface {
	AuthenticateCredential(ctx context.Context, cred string) (*auth.Principal, error)
}

// Options configure an Access.
type Options struct {
	// Disabled turns authentication off: every caller is Anonymous. For
	// the offline quick start and tests only; the server logs a warning.
	Disabled bool
	Authn    Authenticator
	Policy   *auth.Policy
	// Limiter applies per-principal limits; nil means none.
	Limiter *ratelimit.Limiter
	// Defaults apply where a principal sets no limit of its own.
	Defaults ratelimit.Limits
	// Usage records token usage per principal; nil means not recorded.
	Usage *usage.Recorder
	// DefaultMaxTokens is the completion estimate for requests without
	// max_tokens, when reserving tokens. Default 1024.
	DefaultMaxTokens int
	// MTLS authenticates callers without a credential by their verified
	// client certificate: subject -> role, else DefaultRole.
	MTLS MTLS
	// Sessions, when set, identifies an HTTP caller without a credential
	// by its browser session (single sign-on): ok false means it has none.
	Sessions func(r *http.Request) (p *auth.Principal, ok bool, err error)
}

// MTLS maps client-certificate subjects to roles.
type MTLS struct {
	Enabled     bool
	Roles       map[string]string
	DefaultRole string
}

// Anonymous is the principal of every request when access is disabled.
var Anonymous = &auth.Principal{ID: "anonymous", Kind: auth.KindKey, Name: "anonymous", Role: "admin"}

// Access is safe for concurrent use.
type Access struct {
	opts    atomic.Pointer[Options]
	costing // budgets and teams, swapped per configuration (see cost.go)
}

// New returns an Access.
func New(o Options) *Access {
	a := &Access{}
	a.Update(o)
	return a
}

// Update replaces the options (a config reload: authentication on or off,
// roles, default limits). Calls already admitted finish under the options
// they were admitted with.
func (a *Access) Update(o Options) {
	if o.DefaultMaxTokens <= 0 {
		o.DefaultMaxTokens = 1024
	}
	a.opts.Store(&o)
}

// o returns the current options.
func (a *Access) o() *Options { return a.opts.Load() }

// Enabled reports whether callers must authenticate.
func (a *Access) Enabled() bool { return !a.o().Disabled }

// Authenticate identifies the caller from its credential. credErr is the
// transport's error extracting it (none sent, malformed header).
func (a *Access) Authenticate(ctx context.Context, cred string, credErr error) (*auth.Principal, error) {
	if a.o().Disabled {
		return Anonymous, nil
	}
	if credErr != nil {
		return nil, credErr
	}
	return a.o().Authn.AuthenticateCredential(ctx, cred)
}

// Current returns p as its credential's record is now, for work done
// later on its behalf (auth.Chain.Current): a revoked or deleted API key
// is refused with auth.ErrUnauthenticated. With authentication off, or an
// authenticator without records, p is returned as it is.
func (a *Access) Current(ctx context.Context, p *auth.Principal) (*auth.Principal, error) {
	c, ok := a.o().Authn.(interface {
		Current(context.Context, *auth.Principal) (*auth.Principal, error)
	})
	if a.o().Disabled || !ok {
		return p, nil
	}
	return c.Current(ctx, p)
}

type principalKey struct{}

// WithPrincipal returns a context carrying the caller that the route
// adapter authenticated, so handlers behind it (mounted ones included)
// reuse it instead of authenticating again.
func WithPrincipal(ctx context.Context, p *auth.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller WithPrincipal stored, or nil.
func PrincipalFrom(ctx context.Context) *auth.Principal {
	p, _ := ctx.Value(principalKey{}).(*auth.Principal)
	return p
}

// AuthenticateHTTP reads the credential from Authorization or x-api-key;
// a caller already authenticated for this request (WithPrincipal) is
// returned as is.
func (a *Access) AuthenticateHTTP(r *http.Request) (*auth.Principal, error) {
	if a.o().Disabled {
		return Anonymous, nil
	}
	if p := PrincipalFrom(r.Context()); p != nil {
		return p, nil
	}
	cred, err := auth.Credential(r)
	if errors.Is(err, auth.ErrNoCredentials) && a.o().Sessions != nil {
		if p, ok, serr := a.o().Sessions(r); ok {
			return p, serr
		}
	}
	// The address feeds the per-address limit on failed authentications.
	return a.AuthenticateConn(auth.WithClientAddr(r.Context(), r.RemoteAddr), cred, err, r.TLS)
}

// AuthenticateConn is Authenticate for a caller on a TLS connection: one
// that sends no credential may be identified by its verified client
// certificate instead.
func (a *Access) AuthenticateConn(ctx context.Context, cred string, credErr error, state *tls.ConnectionState) (*auth.Principal, error) {
	if a.o().Disabled {
		return Anonymous, nil
	}
	if errors.Is(credErr, auth.ErrNoCredentials) && a.o().MTLS.Enabled {
		if p, ok := a.certPrincipal(state); ok {
			return p, nil
		}
	}
	return a.Authenticate(ctx, cred, credErr)
}

// certPrincipal is the caller named by a verified client certificate.
func (a *Access) certPrincipal(state *tls.ConnectionState) (*auth.Principal, bool) {
	subject, ok := tlsconf.PeerIdentity(state)
	if !ok {
		return nil, false
	}
	role, ok := a.o().MTLS.Roles[subject]
	if !ok {
		role = a.o().MTLS.DefaultRole
	}
	if role == "" {
		return nil, false
	}
	return &auth.Principal{ID: subject, Kind: auth.KindMTLS, Name: subject, Role: role}, true
}

// Authorize checks the role's permission for action on resource, and,
// when model is not empty, every allow-list of models: the key's (or
// client's) own and its team's. It is the one check of a model, so no
// route (inference, count_tokens, the model list) can skip the team's.
func (a *Access) Authorize(p *auth.Principal, resource, action, model string) error {
	if a.o().Disabled {
		return nil
	}
	if err := a.o().Policy.Allow(p, resource, action, model); err != nil || model == "" {
		return err
	}
	return a.authorizeTeam(p, model)
}

// Grant is an admitted call. Done must be called exactly once.
type Grant struct {
	a      *Access
	o      *Options // the options the call was admitted under
	p      *auth.Principal
	model  string
	ticket *ratelimit.Ticket
	cost   pricing.Cost // set by SetCost when a price applied
	priced bool
	start  time.Time // set by SetStart: the request's start
}

// SetStart gives the grant the request's start: its usage is recorded in
// that hour (zero: the hour it settles in).
func (g *Grant) SetStart(t time.Time) { g.start = t }

// MeteredAs is the principal kind Done records the call's usage under,
// "" when there is no usage recorder.
func (g *Grant) MeteredAs() string {
	if g.o.Usage == nil {
		return ""
	}
	return string(g.p.Kind)
}

// Admit reserves the call under p's limits: one request, an estimate of
// its tokens and a concurrency slot. A rejection is a *ratelimit.Error.
func (a *Access) Admit(ctx context.Context, p *auth.Principal, req *openai.Request) (*Grant, error) {
	g := &Grant{a: a, o: a.o(), p: p, model: req.Model}
	if a.o().Limiter == nil {
		return g, nil
	}
	t, err := a.o().Limiter.Acquire(ctx, p.LimitKey(), a.limits(p), a.estimate(req))
	if err != nil {
		return nil, err
	}
	g.ticket = t
	return g, nil
}

func (a *Access) limits(p *auth.Principal) ratelimit.Limits {
	l := a.o().Defaults
	if p.RPM > 0 {
		l.RPM = p.RPM
	}
	if p.TPM > 0 {
		l.TPM = p.TPM
	}
	if p.MaxConcurrent > 0 {
		l.MaxConcurrent = p.MaxConcurrent
	}
	return l
}

// estimate guesses a call's tokens before it runs: about four characters
// of prompt per token plus the completion budget of each of the n choices.
// The sum saturates instead of overflowing (max_tokens is any int).
func (a *Access) estimate(req *openai.Request) int64 {
	out := int64(req.MaxTokens)
	if out == 0 {
		out = int64(a.o().DefaultMaxTokens)
	}
	if req.Endpoint == openai.EndpointEmbedding {
		out = 0
	}
	in, n := int64(req.PromptChars/4), int64(max(req.N, 1))
	if out > 0 && n > (math.MaxInt64-in)/out {
		return math.MaxInt64
	}
	return in + n*out
}

// Headers are the x-ratelimit-* headers to send with the answer.
func (g *Grant) Headers() http.Header {
	if g.ticket == nil {
		return nil
	}
	return g.ticket.Headers()
}

// WriteHeaders writes the x-ratelimit-* headers into h (nothing without
// limits).
func (g *Grant) WriteHeaders(h http.Header) {
	if g.ticket != nil {
		g.ticket.WriteHeaders(h)
	}
}

// Done settles the reservation with the real usage and records it. A
// cached answer costs no upstream tokens and settles at zero, but is still
// recorded as a request.
// SettlesLocally reports whether Done stays in this process (see
// ratelimit.Ticket.SettlesLocally; usage goes to the local recorder).
func (g *Grant) SettlesLocally() bool { return g == nil || g.ticket.SettlesLocally() }

func (g *Grant) Done(ctx context.Context, u openai.Usage, cached bool) {
	// ctx may be cancelled already (the client went away): the ticket
	// settles detached from it, and the held-usage lookup ignores it.
	if g.ticket != nil {
		used := int64(u.TotalTokens)
		if cached {
			used = 0
		}
		g.ticket.Done(ctx, used) // an error is logged and counted by the limiter
	}
	if g.o.Usage == nil {
		return
	}
	rec := usage.Record{Kind: store.PrincipalKind(g.p.Kind), PrincipalID: g.p.ID, Model: g.model, At: g.start}
	if !cached {
		rec.PromptTokens = int64(u.PromptTokens)
		rec.CacheHitTokens = int64(u.CacheHitTokens())
		rec.CompletionTokens = int64(u.CompletionTokens)
	}
	if g.priced {
		rec.Cost, rec.CostSaved, rec.Currency = int64(g.cost.Amount), int64(g.cost.Saved), string(g.cost.Currency)
	}
	if h, ok := ctx.Value(heldKey{}).(*HeldUsage); ok && h != nil {
		h.hold(g.o.Usage, rec)
		return
	}
	g.o.Usage.Record(rec)
}

type heldKey struct{}

// HeldUsage holds the usage records of calls whose answers reach the
// client together, later: the items of one POST /v1/batch or gRPC Batch.
// Usage is billing data for what was delivered, so held records are
// recorded only by Release, once the answer is written; a batch the
// process dies before delivering is never charged. Limits are settled at
// once as usual. Safe for concurrent use.
type HeldUsage struct {
	mu   sync.Mutex
	to   *usage.Recorder
	recs []usage.Record
}

// HoldUsage returns a context whose admitted calls hold their usage in
// the returned HeldUsage instead of recording it.
func HoldUsage(ctx context.Context) (context.Context, *HeldUsage) {
	h := &HeldUsage{}
	return context.WithValue(ctx, heldKey{}, h), h
}

// Unheld returns ctx without its HeldUsage: calls settled with it record
// their usage at once. For an answer stored in the response cache: asking
// again would get it free, so its usage must not wait on a delivery that
// may never come.
func Unheld(ctx context.Context) context.Context {
	if _, ok := ctx.Value(heldKey{}).(*HeldUsage); !ok {
		return ctx
	}
	return context.WithValue(ctx, heldKey{}, (*HeldUsage)(nil))
}

func (h *HeldUsage) hold(to *usage.Recorder, rec usage.Record) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.to = to
	h.recs = append(h.recs, rec)
}

// Release records the held usage. Calls after the first record nothing
// more unless more usage was held since.
func (h *HeldUsage) Release() {
	h.mu.Lock()
	recs, to := h.recs, h.to
	h.recs = nil
	h.mu.Unlock()
	for _, rec := range recs {
		to.Record(rec)
	}
}

// RejectedLimit reports whether err is a rate-limit rejection by Admit and
// names the limit that tripped as dsgate_ratelimit_rejections_total labels
// it: rpm, tpm or concurrency. A limiter backend that is down (failing
// closed, a 503) is not a rejection.
func RejectedLimit(err error) (string, bool) {
	if err == nil {
		return "", false // before rl, which errors.As moves to the heap
	}
	var rl *ratelimit.Error
	if !errors.As(err, &rl) || rl.Err != nil {
		return "", false
	}
	switch rl.Dimension {
	case ratelimit.Requests:
		return "rpm", true
	case ratelimit.Tokens:
		return "tpm", true
	case ratelimit.Concurrency:
		return "concurrency", true
	}
	return string(rl.Dimension), true
}
