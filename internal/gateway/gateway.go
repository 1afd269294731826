package gateway

import (
	"context"

	"errors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/jsonenc"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/tracing"
	"github.com/dsgate/dsgate/internal/upstream"
)

// ErrModelNotFound is returned for a model name no route serves.
var ErrModelNotFound = errors.New("model not found")

// Route is a public model and the pool serving it.
type Route struct {
	Name     string
	OwnedBy  string
	Thinking *bool // default thinking mode, applied when the client chose none
	// ReasoningEffort is the default reasoning_effort of thinking
	// requests that set none (low, high or max; OpenAI's words are mapped).
	ReasoningEffort string
	Pool            *upstream.Pool
	// Fallbacks are public models tried in order when every target of
	// this one failed.
	Fallbacks []string
	// FallbackResponse, when set, answers chat requests that every target
	// and fallback failed, instead of an error.
	FallbackResponse string
	// Cache is the model's cache policy.
	Cache RouteCache

	upstreamModels string // the targets' upstream model names, for cache keys
	primary        Target // the first target in priority order, for pricing
	hasPrimary     bool
	targets        []Target // every target that may answer, fallbacks' included (Targets)
}

// RouteCache is a model's cache policy.
type RouteCache struct {
	Disabled bool
	// Shared lets every caller hit every other caller's entries; by
	// default each principal has its own.
	Shared bool
	// Version goes into keys; change it when the model behind the name
	// changes, to stop serving the old model's answers.
	Version string
	Policy  cache.Policy
}

// Options configure a Gateway.
type Options struct {
	Routes []Route
	// Prices is the price book of this configuration (nil: no cost
	// accounting). The gateway does not use it; it carries it so that a
	// reload swaps prices together with the routes they price.
	Prices *pricing.Book
	// MaxAttempts bounds the targets tried for one request, fallbacks
	// included. Default 3.
	MaxAttempts int
	// RetryBudget caps retries across requests; nil allows every retry.
	RetryBudget *RetryBudget
	// RetryBackoff is the first retry's back-off ceiling; it doubles per
	// retry up to MaxRetryWait, which also caps honouring Retry-After.
	// Defaults 25ms and 2s.
	RetryBackoff time.Duration
	MaxRetryWait time.Duration
	// MaxResponseBytes bounds a non-streaming upstream body. Default 64 MiB.
	MaxResponseBytes int64
	// MaxEventBytes bounds one SSE line. Default 4 MiB.
	MaxEventBytes int
	// DrainWait is how long a stream that ended ([DONE], message_stop)
	// waits for the end of the upstream's response body, so the
	// connection is reused; the client has its last event by then, but
	// the response's end waits. Engines end the body right after the
	// last event; one that keeps it open has its connection closed.
	// Default 10ms.
	DrainWait time.Duration
	Logger    *slog.Logger
	// Observer is told about upstream attempts for metrics; nil is fine.
	Observer Observer
	// Tracer records a span per upstream attempt; nil turns tracing off.
	Tracer trace.Tracer
	// Cache answers repeated requests; nil turns caching off.
	Cache         Cache
	CacheObserver CacheObserver
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Wait pauses d before a retry and reports false when ctx ended first;
	// default a real timer. Tests inject it to see the back-off without
	// sleeping. A retry whose wait cannot fit ctx's deadline is not waited
	// for at all.
	Wait func(ctx context.Context, d time.Duration) bool
}

// Observer receives the pipeline's upstream-level events. Calls happen on
// the request path and must be cheap.
type Observer interface {
	// Attempt reports one upstream call: its outcome for the upstream's
	// health and its latency (first token for streams).
	Attempt(model, upstream string, o upstream.Outcome, latency time.Duration)
	// Retry reports that a failed attempt on upstream is being retried.
	Retry(upstream, reason string)
	// Fallback reports that model's targets all failed and a fallback
	// model (or the fallback response) is being used.
	Fallback(model string)
	// Stall reports a stream cut for going silent.
	Stall(upstream string)
}

// FallbackResponder is an Observer that also counts calls answered with a
// model's canned fallback_response.
type FallbackResponder interface {
	FallbackResponse(model string)
}

type nopObserver struct{}

func (nopObserver) Attempt(string, string, upstream.Outcome, time.Duration) {}
func (nopObserver) Retry(string, string)                                    {}
func (nopObserver) Fallback(string)                                         {}
func (nopObserver) Stall(string)                                            {}

// Gateway serves inference calls. It is immutable after New and safe for
// concurrent use; a config reload builds a new one.
type Gateway struct {
	routes  map[string]*Route
	models  []Model
	opts    Options
	created int64
	group   cache.Group // coalesces identical cache misses
	// prices, once SetPrices was called, replaces opts.Prices.
	prices atomic.Pointer[*pricing.Book]
}

// Model is one entry of the model list.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// New builds a Gateway. Fallback names must name routes; config
// validation guarantees it.
func New(o Options) *Gateway {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = 25 * time.Millisecond
	}
	if o.MaxRetryWait <= 0 {
		o.MaxRetryWait = 2 * time.Second
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 64 << 20
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = 4 << 20
	}
	if o.DrainWait <= 0 {
		o.DrainWait = 10 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Wait == nil {
		o.Wait = wait
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	g := &Gateway{routes: map[string]*Route{}, opts: o, created: o.Now().Unix()}
	for i := range o.Routes {
		r := &o.Routes[i]
		var names []string
		for _, t := range r.Pool.Targets() {
			names = append(names, t.Model)
		}
		slices.Sort(names)
		r.upstreamModels = strings.Join(slices.Compact(names), ",") + r.thinkingDefaults()
		r.primary, r.hasPrimary = primaryTarget(r.Pool)
		g.routes[r.Name] = r
		g.models = append(g.models, Model{ID: r.Name, Object: "model", Created: g.created, OwnedBy: r.OwnedBy})
	}
	for _, r := range g.routes { // once every route exists: fallbacks name others
		r.targets = g.allTargets(r.Name)
	}
	return g
}

// Models lists the public models in configuration order.
func (g *Gateway) Models() []Model { return slices.Clone(g.models) }

// Model returns one public model.
func (g *Gateway) Model(id string) (Model, bool) {
	for _, m := range g.models {
		if m.ID == id {
			return m, true
		}
	}
	return Model{}, false
}

// Ready reports whether at least one model has a usable target.
func (g *Gateway) Ready() bool {
	for _, r := range g.routes {
		if r.Pool.Usable() {
			return true
		}
	}
	return false
}

// Upstreams reports the state of every upstream, each once.
func (g *Gateway) Upstreams() []upstream.Status {
	seen := map[*upstream.Upstream]bool{}
	var out []upstream.Status
	for _, m := range g.models {
		for _, t := range g.routes[m.ID].Pool.Targets() {
			if !seen[t.Upstream] {
				seen[t.Upstream] = true
				out = append(out, t.Upstream.Status())
			}
		}
	}
	return out
}

// Call is one inference request as the transports hand it over.
type Call struct {
	Req          *openai.Request
	Body         []byte // the client's JSON body, validated
	RequestID    string
	HighPriority bool
	// CacheControl is the client's Cache-Control header: no-store skips
	// the cache, no-cache refreshes the entry.
	CacheControl string
	// CacheScope keeps callers' cache entries apart (the principal id).
	CacheScope string
	// Principal identifies the tenant the call is for (its team, else its
	// limit key). A failure whose blame stays unsure counts against an
	// upstream only when calls of two tenants cause it (see
	// upstream.Upstream.FailUnsure).
	Principal string
	// Notes, when set, is told what the answer's headers say, before
	// anything of the answer is written (see Notes).
	Notes Notes
	// Native, when set, is the client's request in its own API, relayed
	// untouched to targets that serve that API (see Native); Body and Req
	// are its chat translation, for every other target.
	Native *Native
}

// Notes is told what a call's answer headers say, so that a transport
// can put it there before anything of the answer is written:
//   - Cache: the cache result (and the tier that hit), as soon as it is
//     known;
//   - Upstream: which upstream answers a stream, just before the first
//     thing from it reaches the sink (X-Dsgate-Upstream): its first
//     event, or a keep-alive comment before it, which sends the
//     response's headers too. (Should that upstream then fail before its
//     first event and another answer, the headers already named the
//     first; the record names the one that answered.)
//   - Fallback: that the model's fallback_response answers a stream
//     (X-Dsgate-Fallback).
//
// One interface, not a func each: a transport's notes are its header map,
// with no closure allocated per call.
type Notes interface {
	Cache(result, tier string)
	Upstream(name string)
	Fallback()
}

// onUpstream tells Notes that u answers, unless the stream already
// started.
func (c *Call) onUpstream(u string, res *Result) {
	if !res.Started && c.Notes != nil {
		c.Notes.Upstream(u)
	}
}

func (c *Call) onCache(result, tier string) {
	if c.Notes != nil {
		c.Notes.Cache(result, tier)
	}
}

func (c *Call) class() upstream.Class {
	return upstream.Class{HighPriority: c.HighPriority, MaxTokens: c.Req.MaxTokens, PromptChars: c.Req.PromptChars}
}

// Result describes a finished call. For Complete, Body is the response to
// send; for Stream it is nil.
type Result struct {
	Body     []byte
	Usage    openai.Usage
	HasUsage bool
	Upstream string
	Model    string // the public model that answered (differs after a fallback)
	Attempts int
	Started  bool // Stream only: data reached the client
	Fallback bool // answered with the configured fallback response
	// Native means the answer is in the API of Call.Native (relayed), not
	// a chat completion: Body for Complete; for Stream, the events went to
	// the sink's Event.
	Native bool

	// UpstreamModel is the model name sent to Upstream and UpstreamKind
	// its kind (upstream.KindDeepSeek, KindOpenAI): what pricing needs.
	UpstreamModel, UpstreamKind string
	// Cache is hit, miss or bypass ("" with no cache); CacheTier names the
	// tier that hit, or "coalesced" for an identical call in flight.
	Cache, CacheTier string
	// FirstToken is a stream's time to its first data event.
	FirstToken time.Duration
	// UsageEstimated means Usage is the gateway's estimate, not the
	// upstream's count: a stream ended (client hang-up, shutdown, upstream
	// failure, or an upstream that reports no usage) before its usage
	// arrived. The completion tokens are the content-bearing chunks
	// delivered to the client (engines send one token per chunk), the
	// prompt tokens four characters of prompt each. HasUsage is set, so
	// every caller's settlement charges it.
	UsageEstimated bool

	deltas   int          // content-bearing chunks delivered to the client
	storable storeVerdict // a cache miss's answer: may it be stored (cache.go)
	// Stored reports that the answer was stored in the response cache: an
	// identical request is now a hit, which costs its caller nothing.
	Stored bool
}

// estimateUsage fills Usage for a stream whose upstream usage never came.
func (r *Result) estimateUsage(c *Call) {
	prompt := (c.Req.PromptChars + 3) / 4
	if r.Native && r.Usage.PromptTokens > 0 {
		prompt = r.Usage.PromptTokens // a relayed message_start counted it
	}
	r.Usage = openai.Usage{PromptTokens: prompt, CompletionTokens: r.deltas, TotalTokens: prompt + r.deltas}
	r.HasUsage, r.UsageEstimated = true, true
}

func (g *Gateway) route(c *Call) (*Route, error) {
	r, ok := g.routes[c.Req.Model]
	if !ok {
		return nil, ModelNotFound(c.Req.Model)
	}
	return r, nil
}

// tryFunc makes one attempt on target t of route r. It reports the
// latency that feeds the EWMA and whether data already reached the client
// (which rules out any retry).
type tryFunc func(ctx context.Context, r *Route, t *upstream.Target) (latency time.Duration, started bool, err error)

// run tries targets of r, then of its fallback models, until one
// succeeds, an error rules out retrying, or attempts (MaxAttempts counts
// every attempt, fallbacks included) or the retry budget run out. Each
// target is tried once first, tier by tier; on the last model of the chain
// targets are then revisited after a jittered back-off while the last
// failure is retryable, so a one- or two-target model still gets all its
// attempts. Nothing is retried once data reached the client. It returns
// the number of attempts made.
func (g *Gateway) run(ctx context.Context, c *Call, r *Route, try tryFunc) (int, error) {
	if g.opts.RetryBudget != nil {
		g.opts.RetryBudget.Deposit()
	}
	chain := []*Route{r}
	for _, name := range r.Fallbacks {
		if fr, ok := g.routes[name]; ok {
			chain = append(chain, fr)
		}
	}
	rn := &runner{g: g, c: c, try: try, cls: c.class()}
	defer rn.settle()
	for ri, rt := range chain {
		if ri > 0 {
			if rn.attempts >= g.opts.MaxAttempts {
				break
			}
			g.opts.Observer.Fallback(r.Name)
			rn.logFallback(ctx, r.Name, rt.Name)
		}
		if done, err := rn.route(ctx, rt, ri == len(chain)-1); done {
			return rn.attempts, err
		}
	}
	if rn.lastErr != nil && !retryable(rn.lastErr) {
		return rn.attempts, rn.lastErr
	}
	if len(rn.steps) == 0 {
		return rn.attempts, upstream.ErrNoTarget
	}
	return rn.attempts, &ExhaustedError{Steps: rn.steps, Last: cmpErr(rn.lastErr, upstream.ErrNoTarget)}
}

// runner is the state of one call's attempts.
type runner struct {
	g        *Gateway
	c        *Call
	try      tryFunc
	cls      upstream.Class
	attempts int
	steps    []Step
	lastErr  error
	lastT    *upstream.Target
	skip     []*upstream.Target // never again for this call (endpoint unsupported, full)
	refused  []*upstream.Target // failed to connect: revisited only when nothing else is left
	unsure   []unsureFailure    // failures whose blame is not decided yet
}

// unsureFailure is a failure with upstream.BlameUnsure: the same failure
// on another healthy upstream makes it the request's, otherwise it is the
// upstream's and counts against its health when the call ends.
type unsureFailure struct {
	u   *upstream.Upstream
	err error
	sig string
}

// route tries the targets of rt. done means the call is over with err.
func (rn *runner) route(ctx context.Context, rt *Route, last bool) (done bool, err error) {
	g, c := rn.g, rn.c
	var tried []*upstream.Target
	tier := -1
	for rn.attempts < g.opts.MaxAttempts {
		t := rn.pick(rt, tried, last)
		if t == nil {
			if len(tried) == 0 {
				rn.steps = append(rn.steps, Step{Model: rt.Name, Reason: "no upstream available"})
			}
			return false, nil
		}
		if !slices.Contains(tried, t) {
			tried = append(tried, t)
		}
		if !t.Upstream.Supports(c.Req.Endpoint) {
			rn.skip = append(rn.skip, t)
			rn.lastErr = &openai.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Param: "model",
				Message: "model " + rt.Name + " does not support the " + c.Req.Endpoint.String() + " endpoint"}
			continue
		}
		if err := fimRefusal(c, rt.Name, t); err != nil {
			rn.skip = append(rn.skip, t)
			rn.lastErr = err
			continue
		}
		if rn.attempts > 0 {
			if g.opts.RetryBudget != nil && !g.opts.RetryBudget.Withdraw() {
				rn.steps = append(rn.steps, Step{Model: rt.Name, Reason: "retry budget exhausted"})
				return true, &ExhaustedError{Steps: rn.steps, Last: rn.lastErr}
			}
			if !g.sleep(ctx, g.backoff(rn.attempts, rn.lastT != nil && t.Upstream == rn.lastT.Upstream, rn.lastErr)) {
				return true, cmpErr(ctx.Err(), rn.lastErr)
			}
			if rn.lastT != nil {
				g.opts.Observer.Retry(rn.lastT.Upstream.Name(), retryReason(rn.lastErr))
			}
		}
		if !t.Upstream.Begin() {
			rn.skip = append(rn.skip, t) // full, or its breaker just opened: not an attempt
			continue
		}
		if tier >= 0 && t.Priority > tier {
			rn.logLowerTier(ctx, rt.Name, t)
		}
		tier = max(tier, t.Priority)
		if done, err := rn.attempt(ctx, rt, t); done {
			return true, err
		}
	}
	return false, nil
}

// pick chooses the next target: an untried one, tier by tier; then, on the
// last model of the chain and after a retryable failure, any available
// one, preferring another than the one that just failed.
func (rn *runner) pick(rt *Route, tried []*upstream.Target, last bool) *upstream.Target {
	excl := append(slices.Clip(tried), rn.skip...)
	if t := rt.Pool.Next(rn.cls, excl); t != nil || !last || len(tried) == 0 || !rn.mayRevisit() {
		return t
	}
	// Revisit: not the target that just failed, nor one that refused
	// connections, while another is available.
	excl = append(append(slices.Clip(rn.skip), rn.refused...), rn.lastT)
	if t := rt.Pool.Next(rn.cls, excl); t != nil {
		return t
	}
	if t := rt.Pool.Next(rn.cls, excl[:len(excl)-1]); t != nil {
		return t
	}
	return rt.Pool.Next(rn.cls, rn.skip)
}

// mayRevisit reports whether the last failure allows trying a target
// again: it must be retryable and not awaiting comparison with another
// upstream.
func (rn *runner) mayRevisit() bool {
	var ue *upstream.Error
	return retryable(rn.lastErr) && !(errors.As(rn.lastErr, &ue) && ue.Blame == upstream.BlameUnsure)
}

// attempt makes one attempt on t and judges it. done means the call is
// over with err (success, or a failure that rules out retrying).
func (rn *runner) attempt(ctx context.Context, rt *Route, t *upstream.Target) (done bool, err error) {
	g := rn.g
	rn.attempts++
	actx, span := g.attemptSpan(ctx, t)
	latency, started, err := rn.try(actx, rt, t)
	oc, blame := outcome(ctx, err)
	switch {
	case blame == upstream.BlameUnsure && !started:
		t.Upstream.End(upstream.Abandoned, latency, err) // judged when the call ends
	default:
		t.Upstream.End(oc, latency, err)
	}
	if blame == upstream.BlameAccount {
		t.Upstream.Trip(err)
	}
	g.opts.Observer.Attempt(rt.Name, t.Upstream.Name(), observed(oc), latency)
	endAttemptSpan(span, rt.Name, t, oc, err)
	if err == nil {
		return true, nil
	}
	rn.lastErr, rn.lastT = err, t
	if connectFailure(err) && !slices.Contains(rn.refused, t) {
		rn.refused = append(rn.refused, t)
	}
	if blame == upstream.BlameUnsure && !started {
		if e, same := rn.compare(t.Upstream, err); same {
			return true, e
		}
	}
	if blame == upstream.BlameRequest {
		return true, rn.requestError(err)
	}
	if started || !retryable(err) || ctx.Err() != nil {
		return true, err
	}
	rn.steps = append(rn.steps, Step{Model: rt.Name, Upstream: t.Upstream.Name(), Reason: upstream.Summary(err), Blame: blame})
	rn.logAttemptFailed(ctx, rt.Name, t, err)
	return false, nil
}

// The warnings of run, route and attempt are logged by functions of their
// own, never inlined: a LogAttrs call's attributes are room in the frame of
// the function that makes it, used or not, and run, route and attempt are
// on a stream's goroutine's stack for as long as the stream lasts (issue
// 22: a stream's handler goroutine fits an 8 KiB stack, TestStreamStack).

//go:noinline
func (rn *runner) logFallback(ctx context.Context, model, fallback string) {
	rn.g.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "falling back to another model",
		slog.String("request_id", rn.c.RequestID), slog.String("model", model), slog.String("fallback", fallback),
		slog.Int("attempts", rn.attempts), slog.String("last_error", summary(rn.lastErr)))
}

//go:noinline
func (rn *runner) logLowerTier(ctx context.Context, model string, t *upstream.Target) {
	rn.g.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "falling back to a lower tier",
		slog.String("request_id", rn.c.RequestID), slog.String("model", model), slog.String("upstream", t.Upstream.Name()),
		slog.Int("tier", t.Priority), slog.Int("attempts", rn.attempts), slog.String("last_error", summary(rn.lastErr)))
}

//go:noinline
func (rn *runner) logAttemptFailed(ctx context.Context, model string, t *upstream.Target, err error) {
	rn.g.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "upstream attempt failed",
		slog.String("request_id", rn.c.RequestID), slog.String("model", model),
		slog.String("upstream", t.Upstream.Name()), slog.String("error", err.Error()),
		slog.String("upstream_message", upstreamMessage(err)), slog.Int("attempt", rn.attempts))
}

// compare records an unsure failure of u. When another upstream already
// failed the same way for this call, the request is at fault: neither
// failure counts against its upstream and the caller gets a 400.
func (rn *runner) compare(u *upstream.Upstream, err error) (error, bool) {
	sig := signature(err)
	for _, f := range rn.unsure {
		if f.u != u && f.sig == sig {
			rn.unsure = rn.unsure[:0]
			return rn.requestError(err), true
		}
	}
	rn.unsure = append(rn.unsure, unsureFailure{u: u, err: err, sig: sig})
	return nil, false
}

// settle hands the unsure failures nobody cleared to their upstreams,
// which count them only when another principal's calls fail there too.
func (rn *runner) settle() {
	for _, f := range rn.unsure {
		f.u.FailUnsure(rn.c.Principal, f.err)
	}
}

// signature identifies a failure for comparison across upstreams.
func signature(err error) string {
	var ue *upstream.Error
	if !errors.As(err, &ue) {
		return err.Error()
	}
	if ue.API != nil {
		return strconv.Itoa(ue.StatusCode) + " " + ue.API.Message
	}
	return strconv.Itoa(ue.StatusCode) + " " + upstream.Summary(ue)
}

// requestError turns a failure the request caused into the client's 400.
// A 4xx keeps the upstream's own error. For a 5xx the engine's text may
// name internal paths, hosts or key fragments, so the caller gets a
// message of the gateway's own: the known fault it matched, else the
// engine's error type and code when they are plain identifiers. The full
// text stays in err, for the log.
func (rn *runner) requestError(err error) error {
	var ue *upstream.Error
	if !errors.As(err, &ue) || (ue.StatusCode >= 400 && ue.StatusCode < 500) {
		return err
	}
	rn.g.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn, "upstream refused the request",
		slog.String("request_id", rn.c.RequestID), slog.String("upstream", ue.Upstream),
		slog.Int("status", ue.StatusCode), slog.String("upstream_message", clipLog(upstreamMessage(err))))
	msg := "the upstream could not process this request"
	switch {
	case ue.API != nil && upstream.RequestFault(ue.API.Message) != "":
		msg += ": " + upstream.RequestFault(ue.API.Message)
	case ue.API != nil && identifier(ue.API.Type):
		msg += " (" + ue.API.Type
		if identifier(ue.API.Code) {
			msg += ", code " + ue.API.Code
		}
		msg += ")"
	case errors.As(ue.Err, new(*upstream.SafeError)):
		msg += ": " + ue.Err.Error()
	}
	return &openai.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "request_not_processable",
		Message: msg, Err: err}
}

// clipLog bounds a foreign string written to the log.
func clipLog(s string) string {
	const n = 2048
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}

// identifier reports a short name of letters, digits and underscores,
// such as an error type or code: safe to repeat to the caller.
func identifier(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// connectFailure reports a failure without any answer from the upstream
// (connection refused or broken, not a timeout).
func connectFailure(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && ue.StatusCode == 0 && ue.API == nil && upstream.Summary(ue) == "connection failed"
}

// summary is upstream.Summary that accepts nil.
func summary(err error) string {
	if err == nil {
		return ""
	}
	return upstream.Summary(err)
}

// upstreamMessage is the upstream's own error message, for logs only.
func upstreamMessage(err error) string {
	var ue *upstream.Error
	if errors.As(err, &ue) && ue.API != nil {
		return ue.API.Message
	}
	return ""
}

// observed maps an outcome to the three the Observer knows.
func observed(o upstream.Outcome) upstream.Outcome {
	if o == upstream.Rejected {
		return upstream.Success // the upstream answered; the request was wrong
	}
	return o
}

// attemptSpan starts the span of one attempt; without a tracer it costs
// nothing (its name and options are built only when a span is made).
func (g *Gateway) attemptSpan(ctx context.Context, t *upstream.Target) (context.Context, trace.Span) {
	if g.opts.Tracer == nil {
		return tracing.Start(ctx, nil, "")
	}
	return tracing.Start(ctx, g.opts.Tracer, "upstream "+t.Upstream.Name(), trace.WithSpanKind(trace.SpanKindClient))
}

func endAttemptSpan(span trace.Span, model string, t *upstream.Target, oc upstream.Outcome, err error) {
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("dsgate.model", model), attribute.String("dsgate.upstream", t.Upstream.Name()),
		attribute.String("dsgate.upstream_model", t.Model), attribute.Int("dsgate.outcome", int(oc)))
	if err != nil {
		span.SetStatus(codes.Error, upstream.Summary(err))
	}
	span.End()
}

// outcome judges an attempt for the upstream's health, with the blame
// that decided it. An answer about the request itself (a 4xx) shows a
// working upstream; a 5xx the request caused says nothing either way.
func outcome(ctx context.Context, err error) (upstream.Outcome, upstream.Blame) {
	if err == nil {
		return upstream.Success, upstream.BlameUpstream // before ue, which errors.As moves to the heap
	}
	var ue *upstream.Error
	switch {
	case ctx.Err() != nil:
		return upstream.Abandoned, upstream.BlameUpstream
	case !errors.As(err, &ue):
		return upstream.Abandoned, upstream.BlameUpstream // the client went away, or a local failure
	}
	switch ue.Blame {
	case upstream.BlameRequest:
		if ue.StatusCode >= 400 && ue.StatusCode < 500 {
			return upstream.Success, ue.Blame
		}
		return upstream.Rejected, ue.Blame
	case upstream.BlameUnsure:
		return upstream.Failure, ue.Blame
	}
	return upstream.Failure, ue.Blame
}

// retryReason is a bounded label for the retry metric.
func retryReason(err error) string {
	var ue *upstream.Error
	switch {
	case errors.As(err, &ue) && ue.StatusCode == http.StatusTooManyRequests:
		return "rate_limited"
	case errors.As(err, &ue) && ue.StatusCode >= 500:
		return "server_error"
	case errors.Is(err, ErrFirstToken), errors.Is(err, ErrStalled):
		return "timeout"
	case errors.Is(err, errIncomplete):
		return "incomplete"
	case errors.As(err, &ue) && ue.API != nil:
		return "error_event"
	}
	return "connection"
}

func cmpErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// quote renders s as a JSON string, as json.Marshal does (without its
// reflection: a renamed model's name is quoted twice a request).
func quote(s string) []byte { return jsonenc.AppendMarshalString(make([]byte, 0, len(s)+2), s) }
