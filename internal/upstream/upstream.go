package upstream

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/tracing"
)

// Kinds of upstream. They differ in request paths, the thinking switch,
// how fill-in-the-middle is asked for, and a few wire quirks.
const (
	KindDeepSeek = "deepseek" // DeepSeek's cloud API
	KindOpenAI   = "openai"   // any OpenAI-compatible engine
	KindLlamaCpp = "llamacpp" // llama.cpp's llama-server
	KindVLLM     = "vllm"     // vLLM's OpenAI-compatible server
	KindSGLang   = "sglang"   // SGLang's OpenAI-compatible server
	KindOllama   = "ollama"   // Ollama's /v1
)

// Options configure an Upstream.
type Options struct {
	Name           string
	Kind           string // one of the Kind constants
	URL            string // server root, without /v1
	APIKey         string
	ReasoningField string // "reasoning_content" or "reasoning"
	// ThinkingSwitch is how the engine turns thinking on and off (see
	// ThinkingSwitch constants); empty picks the kind's default.
	ThinkingSwitch    string
	MaxConcurrency    int // 0: no cap
	ConnectTimeout    time.Duration
	FirstTokenTimeout time.Duration
	IdleTimeout       time.Duration
	// Health configures active probes; Breaker the passive checks.
	Health  HealthCheck
	Breaker BreakerOptions
	// RetryOn says which failures are retried; nil is DefaultRetryOn.
	RetryOn *RetryPolicy
	// MetricsPath, when set, is scraped every MetricsInterval for engine
	// load (vLLM, SGLang, llama.cpp /metrics) used by the least_load policy.
	MetricsPath     string
	MetricsInterval time.Duration // default 2s
	// BalancePollInterval, for a deepseek upstream, is how often
	// PollBalance reads GET /user/balance; 0 turns it off.
	BalancePollInterval time.Duration
	// TLS configures https upstreams; nil uses the system roots.
	TLS *tls.Config
	// NetHTTPClient keeps a plain-http upstream on net/http's Transport
	// instead of h1Transport.
	NetHTTPClient bool
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
	Logger    *slog.Logger
	Now       func() time.Time // the clock; default time.Now
}

// Upstream is one server. It is safe for concurrent use.
type Upstream struct {
	opts       Options
	log        *slog.Logger
	base       string
	auth       string   // "Bearer <key>" or ""
	authHeader []string // auth as a header value, built once
	// rt sends inference requests: Send calls it itself, not through an
	// http.Client (whose per-request copies of the headers and URL were a
	// tenth of the upstream call's allocations), and no redirect is
	// followed (see noRedirects). client, on rt, sends the health checks
	// and balance queries.
	rt http.RoundTripper
	// urls are the endpoints' URLs (base and path), parsed once; nil for
	// an endpoint the upstream does not serve.
	urls       [openai.EndpointMessages + 1]*url.URL
	client     *http.Client
	inFlight   atomic.Int64
	breaker    *Breaker
	activeDown atomic.Bool // failed its active health checks
	drained    atomic.Bool // taken out of rotation by an operator
	ewma       peakEWMA
	lastErr    atomic.Pointer[lastError]
	bal        balanceState // see balance.go
	retryOn    RetryPolicy
	unsure     unsureWitnesses // principals of recent unsure failures

	loadMu       sync.Mutex
	load         Load
	loadInFlight int64 // inFlight when load was sampled
}

type lastError struct {
	At      time.Time
	Message string
}

// New builds an Upstream with its own keep-alive connection pool.
func New(o Options) *Upstream {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MetricsInterval <= 0 {
		o.MetricsInterval = 2 * time.Second
	}
	o.ThinkingSwitch = cmp.Or(o.ThinkingSwitch, DefaultThinkingSwitch(o.Kind))
	o.ConnectTimeout = cmp.Or(o.ConnectTimeout, 5*time.Second)
	o.FirstTokenTimeout = cmp.Or(o.FirstTokenTimeout, 120*time.Second)
	o.IdleTimeout = cmp.Or(o.IdleTimeout, 60*time.Second)
	h := &o.Health
	h.Interval = cmp.Or(h.Interval, 10*time.Second)
	h.Timeout = cmp.Or(h.Timeout, 2*time.Second)
	h.HealthyThreshold = cmp.Or(h.HealthyThreshold, 2)
	h.UnhealthyThreshold = cmp.Or(h.UnhealthyThreshold, 3)
	rt := o.Transport
	if rt == nil {
		tr := newTransport(o.ConnectTimeout, o.FirstTokenTimeout)
		tr.TLSClientConfig = o.TLS
		rt = tr
		if plainHTTP(o.URL) && !o.NetHTTPClient {
			rt = newH1Transport(tr, tr.DialContext, o.FirstTokenTimeout)
		}
	}
	u := &Upstream{
		opts:   o,
		log:    o.Logger,
		base:   strings.TrimRight(o.URL, "/"),
		rt:     rt,
		client: &http.Client{Transport: rt, CheckRedirect: noRedirects},
		ewma:   peakEWMA{tau: 10 * time.Second},
	}
	if o.APIKey != "" {
		u.auth = "Bearer " + o.APIKey
	} else if pu, err := url.Parse(o.URL); err == nil && pu.User != nil {
		// What net/http's client sends for a URL with user info (Send
		// calls the transport itself).
		pass, _ := pu.User.Password()
		u.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(pu.User.Username()+":"+pass))
	}
	if u.auth != "" {
		u.authHeader = []string{u.auth}
	}
	for e := range u.urls {
		if p, ok := u.path(openai.Endpoint(e)); ok {
			if pu, err := url.Parse(u.base + p); err == nil {
				if strings.LastIndex(pu.Host, ":") > strings.LastIndex(pu.Host, "]") {
					pu.Host = strings.TrimSuffix(pu.Host, ":") // as NewRequest has it
				}
				u.urls[e] = pu
			}
		}
	}
	u.retryOn = defaultRetryPolicy()
	if o.RetryOn != nil {
		u.retryOn = *o.RetryOn
	}
	bo := o.Breaker
	bo.Now = o.Now
	userChange := bo.OnChange
	bo.OnChange = func(from, to BreakerState) {
		level := slog.LevelInfo
		if to == BreakerOpen {
			level = slog.LevelWarn
		}
		u.log.Log(context.Background(), level, "circuit breaker "+to.String(), "upstream", o.Name, "from", from.String())
		if userChange != nil {
			userChange(from, to)
		}
	}
	u.breaker = NewBreaker(bo)
	return u
}

// The values of the headers every upstream request carries.
var (
	jsonContentType = []string{"application/json"}
	acceptAnswers   = []string{"application/json, text/event-stream"}
)

func newTransport(connect, header time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: header,
		// Bodies are relayed as they come; decompressing and recompressing
		// them would cost CPU for nothing.
		DisableCompression: true,
		// Each connection keeps its buffers while a stream is open on it
		// (issue 22: memory per open stream). The write buffer holds the
		// request's headers and the start of its body, then sits idle for
		// the whole answer; a longer body is copied past it. The read
		// buffer holds a few chat chunks, which arrive one at a time.
		WriteBufferSize: 1 << 10,
		ReadBufferSize:  2 << 10,
	}
}

// plainHTTP reports whether an upstream at url gets h1Transport: a
// plain-http URL not sent through a proxy.
func plainHTTP(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" {
		return false
	}
	// What http.ProxyFromEnvironment decides, read now (it reads the
	// environment once per process).
	proxy, err := httpproxy.FromEnvironment().ProxyFunc()(u)
	return err == nil && proxy == nil
}

// Name is the upstream's config name.
func (u *Upstream) Name() string { return u.opts.Name }

// Kind is one of the Kind constants.
func (u *Upstream) Kind() string { return u.opts.Kind }

// ReasoningField is the upstream's name for chain-of-thought text.
func (u *Upstream) ReasoningField() string { return u.opts.ReasoningField }

// FirstTokenTimeout bounds the wait for the first stream event.
func (u *Upstream) FirstTokenTimeout() time.Duration { return u.opts.FirstTokenTimeout }

// IdleTimeout bounds the gap between stream events.
func (u *Upstream) IdleTimeout() time.Duration { return u.opts.IdleTimeout }

// InFlight is the number of requests being served now.
func (u *Upstream) InFlight() int64 { return u.inFlight.Load() }

// Healthy reports whether the upstream passes its active health checks
// and its circuit breaker would let a request through.
func (u *Upstream) Healthy() bool { return !u.activeDown.Load() && u.breaker.Ready() }

// Available reports whether the upstream is healthy and not at its
// concurrency cap. Selection policies only ever see available targets.
func (u *Upstream) Available() bool {
	return !u.drained.Load() && u.Healthy() && (u.opts.MaxConcurrency == 0 || u.inFlight.Load() < int64(u.opts.MaxConcurrency))
}

// SetDrained takes the upstream out of rotation (true) or puts it back
// (false). A drained upstream is not Available, so policies stop picking
// it; requests already running on it finish. Health checks go on.
func (u *Upstream) SetDrained(drained bool) { u.drained.Store(drained) }

// Drained reports whether an operator took the upstream out of rotation.
func (u *Upstream) Drained() bool { return u.drained.Load() }

// Begin takes a concurrency slot and the breaker's permission for one
// request. It fails when the upstream is full or its breaker says no.
// Every successful Begin must be paired with End.
func (u *Upstream) Begin() bool {
	n := u.inFlight.Add(1)
	if u.opts.MaxConcurrency > 0 && n > int64(u.opts.MaxConcurrency) {
		u.inFlight.Add(-1)
		return false
	}
	if !u.breaker.Allow() {
		u.inFlight.Add(-1)
		return false
	}
	return true
}

// Outcome is how a request to an upstream went, as far as the upstream's
// health is concerned.
type Outcome int

// Outcomes. A client error (a 4xx about the request) is a success: the
// upstream answered. Abandoned means nobody can tell (the client left).
// Rejected is a failure the request itself caused (see Blame): it says
// nothing about the upstream, so it neither counts against it nor closes
// a half-open breaker.
const (
	Success Outcome = iota
	Failure
	Abandoned
	Rejected
)

func (o Outcome) String() string {
	switch o {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Rejected:
		return "rejected"
	}
	return "abandoned"
}

// End reports the outcome of a request started with Begin. latency is the
// time to the first token for streams and to the whole answer otherwise.
func (u *Upstream) End(o Outcome, latency time.Duration, err error) {
	u.inFlight.Add(-1)
	switch o {
	case Success:
		u.breaker.Record(true)
		u.ewma.observe(latency, u.opts.Now())
	case Failure:
		u.breaker.Record(false)
		if err != nil {
			u.lastErr.Store(&lastError{At: u.opts.Now(), Message: Summary(err)})
		}
	default:
		u.breaker.Release()
	}
}

// FailUnsure records an unsure failure (BlameUnsure) that no other
// upstream explained, judged after its End, caused by a call of principal
// (the caller's limit key). It counts against the breaker only when a
// call of another principal failed the same unexplained way within the
// breaker's window: what one caller sends must not take an upstream away
// from everyone else. It reports whether the failure was counted.
func (u *Upstream) FailUnsure(principal string, err error) bool {
	now := u.opts.Now()
	if err != nil {
		u.lastErr.Store(&lastError{At: now, Message: Summary(err)})
	}
	if !u.unsure.corroborated(principal, now, u.breaker.o.Window) {
		return false
	}
	u.breaker.Observe(false)
	return true
}

// Trip opens the breaker at once: the upstream refused dsgate's own
// credentials or account, which no retry on it will fix until they change.
// Half-open trials find out when it works again.
func (u *Upstream) Trip(err error) {
	u.breaker.Trip()
	if err != nil {
		u.lastErr.Store(&lastError{At: u.opts.Now(), Message: Summary(err)})
	}
}

// Latency is the peak-EWMA latency estimate; 0 before any success.
func (u *Upstream) Latency() time.Duration { return u.ewma.get(u.opts.Now()) }

// Status is a snapshot for the admin API and metrics.
type Status struct {
	Name          string `json:"name"`
	Kind          string `json:"kind"`
	Healthy       bool   `json:"healthy"`
	ActiveHealthy bool   `json:"active_healthy"`
	Breaker       string `json:"breaker"`
	// BreakerRetryAt is when an open breaker lets a trial request through;
	// zero unless open.
	BreakerRetryAt time.Time `json:"breaker_retry_at,omitzero"`
	// Drained: an operator took the upstream out of rotation.
	Drained    bool    `json:"drained,omitempty"`
	InFlight   int64   `json:"in_flight"`
	EWMAMillis float64 `json:"ewma_latency_ms"`
	// Load is the engine's last reported load (upstreams with a
	// metrics_path); LoadStale says it is older than three scrape
	// intervals, so least_load no longer uses it.
	Load        *Load     `json:"load,omitempty"`
	LoadStale   bool      `json:"load_stale,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// Balance is the last account balance read (deepseek upstreams that
	// poll it); BalancePollFailures counts failed reads.
	Balance             *Balance `json:"balance,omitempty"`
	BalancePollFailures uint64   `json:"balance_poll_failures,omitempty"`
}

// Status returns the upstream's current state. It never includes the URL
// or key.
func (u *Upstream) Status() Status {
	s := Status{
		Name:          u.Name(),
		Kind:          u.Kind(),
		Healthy:       u.Healthy(),
		ActiveHealthy: !u.activeDown.Load(),
		Breaker:       u.breaker.State().String(),
		InFlight:      u.inFlight.Load(),
		EWMAMillis:    float64(u.Latency().Microseconds()) / 1000,
		Drained:       u.drained.Load(),
	}
	s.BreakerRetryAt = u.breaker.RetryAt()
	u.loadMu.Lock()
	if !u.load.At.IsZero() {
		l := u.load
		s.Load = &l
		s.LoadStale = u.stale(l, u.opts.Now())
	}
	u.loadMu.Unlock()
	if le := u.lastErr.Load(); le != nil {
		s.LastError, s.LastErrorAt = le.Message, le.At
	}
	if b, ok := u.Balance(); ok {
		s.Balance = &b
	}
	s.BalancePollFailures = u.BalancePollFailures()
	return s
}

// BreakerState is the circuit breaker's state.
func (u *Upstream) BreakerState() BreakerState { return u.breaker.State() }

// Supports reports whether the upstream serves endpoint e.
func (u *Upstream) Supports(e openai.Endpoint) bool {
	_, ok := u.path(e)
	return ok
}

func (u *Upstream) path(e openai.Endpoint) (string, bool) {
	if u.opts.Kind == KindDeepSeek {
		switch e {
		case openai.EndpointChat:
			return "/chat/completions", true
		case openai.EndpointCompletion, openai.EndpointFIM:
			return "/beta/completions", true
		case openai.EndpointMessages:
			return anthropicPath, true
		}
		return "", false // DeepSeek's cloud has no embeddings
	}
	switch e {
	case openai.EndpointChat:
		return "/v1/chat/completions", true
	case openai.EndpointFIM:
		if u.opts.Kind == KindLlamaCpp {
			return "/infill", true // its /v1/completions ignores suffix
		}
		return "/v1/completions", true
	case openai.EndpointCompletion:
		return "/v1/completions", true
	case openai.EndpointEmbedding:
		return "/v1/embeddings", true
	}
	return "", false
}

// Send posts body to the endpoint. A non-2xx answer is returned as an
// *Error with the body read and normalised; on success the caller owns the
// response body and must close it.
func (u *Upstream) Send(ctx context.Context, e openai.Endpoint, body []byte, requestID string) (*http.Response, error) {
	p, ok := u.path(e)
	if !ok {
		return nil, &Error{Upstream: u.Name(), Blame: BlameRequest, Err: fmt.Errorf("endpoint %s not supported", e)}
	}
	req, err := u.newRequest(ctx, e, p, body)
	if err != nil {
		return nil, &Error{Upstream: u.Name(), Err: err}
	}
	// Canonical keys and shared values, set without Header.Set's copies:
	// the transport only reads a request's headers.
	h := req.Header
	h["Content-Type"], h["Accept"] = jsonContentType, acceptAnswers
	if e == openai.EndpointMessages {
		u.anthropicHeaders(h)
	} else if u.auth != "" {
		h["Authorization"] = u.authHeader
	}
	if requestID != "" {
		h["X-Request-Id"] = []string{requestID}
	}
	tracing.Inject(ctx, req.Header)
	resp, err := u.rt.RoundTrip(req)
	if err != nil {
		return nil, u.transportError(ctx, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, u.statusError(resp.StatusCode, resp.Header.Get("Retry-After"), b)
}

// newRequest is http.NewRequestWithContext for a POST of body to the
// upstream's path p (endpoint e's). For h1Transport it is made from the
// URL parsed once in New rather than at every request (url.Parse was a
// fifth of the request's making), with a sendBody, whose bytes
// writeRequest writes as they are. net/http's Transport (https, a proxy)
// gets NewRequestWithContext's own: it sends the headers and the body in
// one write only for the in-memory readers it knows (a bytes.Reader).
func (u *Upstream) newRequest(ctx context.Context, e openai.Endpoint, p string, body []byte) (*http.Request, error) {
	if _, h1 := u.rt.(*h1Transport); !h1 || ctx == nil || int(e) >= len(u.urls) || u.urls[e] == nil {
		return http.NewRequestWithContext(ctx, http.MethodPost, u.base+p, bytes.NewReader(body))
	}
	target := *u.urls[e]
	b := newSendBody(body)
	req := &http.Request{
		Method: http.MethodPost, URL: &target, Host: target.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(http.Header, 6), Body: b, GetBody: b.again, ContentLength: int64(len(body)),
	}
	if len(body) == 0 {
		req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
	return req.WithContext(ctx), nil
}

// noRedirects keeps an upstream's redirect as its answer. Following it
// would send the request, its body and the upstream's credentials wherever
// it points (net/http follows a 307 or 308 of a POST with its body, and a
// 301, 302 or 303 as a GET whose answer would be taken for the
// completion): an upstream's 3xx is a failed attempt like any other.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// statusError classifies a non-2xx answer: whose fault it is and whether
// the upstream's retry policy retries it.
func (u *Upstream) statusError(code int, retryAfterHeader string, body []byte) *Error {
	api := openai.NormalizeUpstreamError(code, body)
	blame := blameStatus(code, api, body)
	retry := false
	switch blame {
	case BlameAccount:
		retry = true // another upstream has its own credentials
	case BlameUpstream, BlameUnsure:
		retry = u.retryOn.Status(code)
	}
	return &Error{
		Upstream:   u.Name(),
		StatusCode: code,
		Retryable:  retry,
		Blame:      blame,
		RetryAfter: retryAfter(retryAfterHeader),
		API:        api,
		Err:        fmt.Errorf("status %d", code),
	}
}

// transportError classifies a failed round trip. A cancelled request
// context is the caller's doing and is returned as is; anything else is
// worth another target.
func (u *Upstream) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if c := context.Cause(ctx); c != nil && !errors.Is(c, ctx.Err()) {
			return &Error{Upstream: u.Name(), Retryable: u.retryOn.Timeout, Err: c}
		}
		return ctx.Err()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &Error{Upstream: u.Name(), Retryable: u.retryOn.Timeout, Err: err}
	}
	return &Error{Upstream: u.Name(), Retryable: u.retryOn.Connect, Err: err}
}

// ReadError wraps a failure while reading a response body.
func (u *Upstream) ReadError(ctx context.Context, err error) error {
	return u.transportError(ctx, err)
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}
