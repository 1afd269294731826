package httpapi

import (
	"log/slog"

	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/metrics"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// Options configure the HTTP API.
type Options struct {
	// Gateway returns the current gateway; it changes on config reload.
	Gateway func() *gateway.Gateway
	// Access authenticates, authorizes and rate-limits callers.
	Access *access.Access
	// Mounts are handlers served beside the API, by path pattern (OAuth2
	// endpoints, /admin/keys, ...). They do their own authorization.
	Mounts map[string]http.Handler
	// HighPriorityRoles may use the X-Dsgate-Priority: high header.
	HighPriorityRoles []string
	// Metrics and Audit observe every request; either may be nil.
	Metrics *metrics.Metrics
	Audit   Auditor
	// AuditBodies keeps prompt and answer text in audit records; without
	// it records carry only their hashes.
	AuditBodies bool
	// MetricsHandler serves GET /metrics on this listener when set.
	MetricsHandler http.Handler
	// Tracer records spans; nil turns tracing off.
	Tracer       trace.Tracer
	Logger       *slog.Logger
	AccessLog    bool
	MaxBodyBytes int64
	// BodyLimitExempt path prefixes apply their own body limit (uploads).
	BodyLimitExempt []string
	RequestTimeout  time.Duration
}

// New returns the HTTP handler. The chain reads outside in: recover, scope
// (request id, body and time limits), observe (access log, metrics,
// audit), then the routes, each guarded by authentication and RBAC.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Access == nil {
		o.Access = access.New(access.Options{Disabled: true})
	}
	h := &handlers{opts: o}
	mux := http.NewServeMux()
	for _, rt := range []struct {
		path     string
		e        openai.Endpoint
		resource string
	}{
		{"/v1/chat/completions", openai.EndpointChat, auth.ResourceTextGeneration},
		{"/chat/completions", openai.EndpointChat, auth.ResourceTextGeneration},
		{"/v1/completions", openai.EndpointCompletion, auth.ResourceTextGeneration},
		{"/completions", openai.EndpointCompletion, auth.ResourceTextGeneration},
		{"/beta/completions", openai.EndpointFIM, auth.ResourceTextGeneration},
		{"/v1/embeddings", openai.EndpointEmbedding, auth.ResourceEmbeddings},
		{"/embeddings", openai.EndpointEmbedding, auth.ResourceEmbeddings},
	} {
		mux.Handle(rt.path, method(http.MethodPost, h.guard(rt.resource, auth.ActionRead, h.inference(rt.e, rt.resource))))
	}
	for _, p := range []string{"/v1/models", "/models"} {
		mux.Handle(p, method(http.MethodGet, h.guard(auth.ResourceModels, auth.ActionRead, h.models)))
		mux.Handle(p+"/{id...}", method(http.MethodGet, h.guard(auth.ResourceModels, auth.ActionRead, h.model)))
	}
	mux.Handle("/admin/upstreams", method(http.MethodGet,
		h.guard(auth.ResourceAdminUpstreams, auth.ActionRead, h.upstreams)))
	for pattern, handler := range o.Mounts {
		mux.Handle(pattern, routeName(pattern, handler))
	}
	if o.MetricsHandler != nil {
		mux.Handle("/metrics", method(http.MethodGet, o.MetricsHandler))
	}
	mux.Handle("/healthz", method(http.MethodGet, http.HandlerFunc(h.healthz)))
	mux.Handle("/readyz", method(http.MethodGet, http.HandlerFunc(h.readyz)))
	mux.HandleFunc("/", notFound)

	var next http.Handler = mux
	next = observe(next, &h.opts)
	next = scope(next, o.MaxBodyBytes, o.BodyLimitExempt, o.RequestTimeout)
	next = recoverPanics(next, o.Logger)
	return next
}

// method answers 405 in OpenAI's shape for any other method. The mux's own
// 405 would be plain text.
func method(m string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqscope.From(r.Context()).Route = r.Method + " " + r.URL.Path
		if r.Pattern != "" {
			reqscope.From(r.Context()).Route = m + " " + r.Pattern
		}
		if r.Method != m && !(m == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", m)
			writeError(w, openai.NewError(http.StatusMethodNotAllowed,
				"method "+r.Method+" is not allowed on "+r.URL.Path, "method_not_allowed"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// routeName labels a mounted handler's requests with its pattern, so
// metrics stay bounded whatever paths clients send.
func routeName(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqscope.From(r.Context()).Route = r.Method + " " + pattern
		h.ServeHTTP(w, r)
	})
}

func (o *Options) recorder() Recorder {
	return Recorder{Metrics: o.Metrics, Audit: o.Audit, AuditBodies: o.AuditBodies}
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, openai.NewError(http.StatusNotFound, "unknown request URL: "+r.Method+" "+r.URL.Path, "unknown_url"))
}
