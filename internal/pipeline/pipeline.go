package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// Backend runs inference calls; *gateway.Gateway implements it.
type Backend interface {
	Complete(ctx context.Context, c *gateway.Call) (*gateway.Result, error)
	Stream(ctx context.Context, c *gateway.Call, sink gateway.Sink) (*gateway.Result, error)
}

// Server is implemented by a Backend that can say whether it serves a
// model (*gateway.Gateway does). Run refuses a model it does not serve
// before admission: nothing is reserved, and no usage is recorded under a
// name the gateway never served.
type Server interface {
	Serves(model string) bool
}

// Options configure a Pipeline.
type Options struct {
	// Backend returns the current gateway; it changes on config reload.
	Backend func() Backend
	// Access authorizes and rate-limits; nil means access control is off.
	Access *access.Access
	// HighPriorityRoles may ask for priority routing.
	HighPriorityRoles []string
	// Recorder emits the metrics and audit record of every Item.
	Recorder Recorder
	// Prices returns the current price book; when nil the backend's
	// (Pricer) is used. A nil book means no cost accounting.
	Prices func() *pricing.Book
	Logger *slog.Logger
}

// Pipeline is safe for concurrent use.
type Pipeline struct{ o Options }

// New returns a Pipeline.
func New(o Options) *Pipeline {
	if o.Access == nil {
		o.Access = access.New(access.Options{Disabled: true})
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Pipeline{o: o}
}

// Access is the access control the pipeline applies.
func (pl *Pipeline) Access() *access.Access { return pl.o.Access }

// Recorder is the pipeline's recorder of finished requests.
func (pl *Pipeline) Recorder() Recorder { return pl.o.Recorder }

// Call is one inference request as a transport hands it over.
type Call struct {
	Endpoint  openai.Endpoint
	Body      []byte
	Principal *auth.Principal // authenticated by the transport
	// HighPriority is set when the caller asked for priority routing; the
	// pipeline grants it only to HighPriorityRoles.
	HighPriority bool
	CacheControl string // the client's Cache-Control
	// Sink receives a stream's events; a call that asks to stream without
	// a sink (a batch item) is refused with 400.
	Sink gateway.Sink
	// Header, when set, receives the x-ratelimit-* headers once the call
	// is admitted, before the gateway runs, and what the gateway tells of
	// the answer (X-Dsgate-Cache, -Cache-Tier, -Upstream, -Fallback: see
	// gateway.Notes) before anything of it is written. HTTP passes its
	// response headers, gRPC the map of its header metadata.
	Header http.Header
	// OnAdmit, when set, is called once the call is admitted, before the
	// gateway runs (gRPC sends the rate-limit state as metadata from it).
	OnAdmit func(*access.Grant)
	// Native, when set, is the request in its own API (Anthropic
	// Messages), which Body translates: the gateway relays it untouched to
	// upstreams that serve that API. Parsing, limits and the record use
	// Body.
	Native *gateway.Native
	// Parsed, when set, is Body as the translator that built it read it
	// (chatwire.Request.Encode): the request, or the fault openai.Parse
	// refuses it for. The pipeline takes it and does not read Body.
	Parsed openai.Parsed
}

// Resource is the RBAC resource an endpoint needs (action read).
func Resource(e openai.Endpoint) string {
	if e == openai.EndpointEmbedding {
		return auth.ResourceEmbeddings
	}
	return auth.ResourceTextGeneration
}

// Run is the request sequence: parse, authorize the model, admit, call the
// gateway, settle. It fills the Scope in ctx as it goes; settlement is
// deferred, so a panic in the gateway or a sink still settles the limits
// and leaves a record. The result is nil only with an error.
func (pl *Pipeline) Run(ctx context.Context, c *Call) (res *gateway.Result, err error) {
	s := reqscope.From(ctx)
	p := c.Principal
	if p == nil {
		p = access.Anonymous
	}
	s.Principal, s.Role, s.Team = p.ID, p.Role, pl.o.Access.TeamOf(p)
	req, err := c.Parsed.Req, c.Parsed.Err
	if req == nil && err == nil {
		req, err = openai.Parse(c.Endpoint, c.Body)
	}
	if err != nil {
		return nil, err
	}
	s.Model, s.Stream, s.Input = req.Model, req.Stream, c.Body
	if req.Stream && c.Sink == nil {
		return nil, openai.InvalidRequest("stream", "stream is not supported here")
	}
	if err := pl.o.Access.Authorize(p, Resource(c.Endpoint), auth.ActionRead, req.Model); err != nil {
		return nil, err
	}
	if sv, ok := pl.o.Backend().(Server); ok && !sv.Serves(req.Model) {
		return nil, gateway.ModelNotFound(req.Model)
	}
	if s.Start.IsZero() {
		s.Start = time.Now()
	}
	book := pl.book() // the prices in force when the request started
	grant, err := pl.o.Access.Admit(ctx, p, req)
	if err != nil {
		return nil, err
	}
	grant.SetStart(s.Start) // usage counts in the hour the audit record's request_at is in
	s.Metered = grant.MeteredAs()
	team, err := pl.o.Access.AdmitTeam(ctx, p, req)
	if err != nil {
		grant.Done(ctx, openai.Usage{}, false)
		return nil, err
	}
	hold, err := pl.reserveBudget(ctx, p, req, book, s.Start)
	if err != nil {
		team.Done(ctx, openai.Usage{}, false)
		grant.Done(ctx, openai.Usage{}, false)
		return nil, err
	}
	defer func() {
		if res != nil && res.Started && !(hold == nil && team.SettlesLocally() && grant.SettlesLocally()) {
			// The gateway leaves a finished stream's last events to the
			// response's end (one write); when settling waits on a remote
			// store (Redis limits, budgets), they go out first.
			if f, ok := c.Sink.(gateway.FlushSink); ok {
				f.Flush()
			}
		}
		if res == nil {
			u := abandoned(ctx, err, req, s)
			hold.settle(ctx, nil)
			team.Done(ctx, u, false)
			grant.Done(ctx, u, false)
			return
		}
		if err != nil && !res.HasUsage { // the gateway's result of a failed call (attempts) carries no usage
			if u := abandoned(ctx, err, req, s); u.TotalTokens > 0 {
				res.Usage, res.HasUsage, res.UsageEstimated = u, true, true
			}
		}
		settle(s, res, req.Stream)
		if pl.priceRequest(s, book, res) {
			grant.SetCost(s.Cost)
			if !req.Stream && c.Header != nil {
				c.Header.Set(pricing.HeaderName, s.Cost.Header())
			}
		}
		hold.settle(ctx, s)
		if res.Stored {
			ctx = access.Unheld(ctx) // see Unheld: the answer is free to ask again now
		}
		team.Done(ctx, res.Usage, res.Cache == gateway.CacheHit)
		grant.Done(ctx, res.Usage, res.Cache == gateway.CacheHit)
	}()
	if c.Header != nil {
		grant.WriteHeaders(c.Header)
		hold.writeHeaders(c.Header)
	}
	if c.OnAdmit != nil {
		c.OnAdmit(grant)
	}
	limitKey := p.LimitKey() // built once: the cache scope, and the tenant without a team
	call := &gateway.Call{Req: req, Body: c.Body, RequestID: s.RequestID, CacheControl: c.CacheControl,
		HighPriority: c.HighPriority && pl.mayPrioritize(p), CacheScope: limitKey, Principal: tenant(s.Team, limitKey),
		Native: c.Native}
	if c.Header != nil {
		call.Notes = headerNotes(c.Header)
	}
	if req.Stream {
		return pl.o.Backend().Stream(ctx, call, c.Sink)
	}
	return pl.o.Backend().Complete(ctx, call)
}

// abandoned is the usage charged for a call that ended without a result:
// none, unless the client went away (a hang-up cancels ctx). Then the
// upstream may have read the prompt and generated for a while, and the
// answer that would say how much never came, so the call is charged the
// prompt estimate (about four characters a token) and it is recorded in
// s. Not more: whether and how long the upstream generated is unknown,
// and charging the whole completion budget would bill a client that hangs
// up at once for tokens never made. A stream hung up on is charged what
// was delivered instead (it has a result).
func abandoned(ctx context.Context, err error, req *openai.Request, s *reqscope.Scope) openai.Usage {
	if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
		return openai.Usage{}
	}
	prompt := (req.PromptChars + 3) / 4
	if s.PromptTokens == 0 {
		s.PromptTokens = prompt
	}
	return openai.Usage{PromptTokens: prompt, TotalTokens: prompt}
}

// tenant names who a call is on behalf of when the gateway weighs
// failures nobody can explain (gateway.Call.Principal): the principal's
// team (looked up once, into the scope) when it has one, so one team's
// keys and clients count as one witness, else the principal itself (its
// limit key).
func tenant(team, limitKey string) string {
	if team != "" {
		return "team:" + team
	}
	return limitKey
}

// mayPrioritize reports whether p's role may ask for priority routing.
func (pl *Pipeline) mayPrioritize(p *auth.Principal) bool {
	return !pl.o.Access.Enabled() || slices.Contains(pl.o.HighPriorityRoles, p.Role)
}

// settle copies what the gateway reports into the record. A stream's
// output is what its sink hashed as the events passed, through whichever
// API: the body of a cache hit or a fallback answer replayed as a stream
// is not what its client received.
func settle(s *reqscope.Scope, res *gateway.Result, stream bool) {
	s.Upstream, s.Attempts, s.FirstToken = res.Upstream, res.Attempts, res.FirstToken
	s.CacheResult, s.CacheTier = res.Cache, res.CacheTier
	if res.HasUsage {
		s.PromptTokens = res.Usage.PromptTokens
		s.CompletionTokens = res.Usage.CompletionTokens
		s.CacheHitTokens = res.Usage.CacheHitTokens()
		s.ReasoningTokens = res.Usage.ReasoningTokens()
	}
	if res.Body != nil && !stream {
		s.Output = res.Body
	}
}

// Fail records err in the scope and returns the OpenAI error it means:
// the one error table (apierror) for every transport.
func Fail(s *reqscope.Scope, err error) *openai.Error {
	ae := apierror.From(err)
	s.Err, s.ErrorType = err, ae.Type
	return ae
}

// headerNotes writes what the gateway tells of a call's answer into its
// headers (gateway.Notes).
type headerNotes http.Header

func (h headerNotes) Cache(result, tier string) {
	http.Header(h).Set("X-Dsgate-Cache", result)
	if tier != "" {
		http.Header(h).Set("X-Dsgate-Cache-Tier", tier)
	}
}

func (h headerNotes) Upstream(name string) { http.Header(h).Set("X-Dsgate-Upstream", name) }

func (h headerNotes) Fallback() { http.Header(h).Set("X-Dsgate-Fallback", "true") }
