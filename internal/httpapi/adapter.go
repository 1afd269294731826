package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/reqscope"
	"github.com/dsgate/dsgate/internal/tracing"
)

// handlerFunc serves a request whose caller the route adapter has
// authenticated and authorized. It writes its answer itself (JSON or a
// stream) or returns an error, which the adapter renders: a handler never
// writes an error.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error

// apiFunc returns a result for the adapter to write as JSON with 200, or
// an error (the shape of Prometheus's API handlers).
type apiFunc func(r *http.Request, p *auth.Principal) (any, error)

// perm is what a route needs: the RBAC resource and action, or nothing
// (public: no credential is asked for).
type perm struct {
	resource, action string
	public           bool
	shape            apiShape // the wire shape of the route's errors
}

var public = perm{public: true}

// jsonResult adapts an apiFunc.
func jsonResult(fn apiFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
		v, err := fn(r, p)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, v)
	}
}

// route is the route adapter of dsgate's own routes: it names the route,
// refuses other methods, authenticates the caller from the headers before
// anything reads the body, checks its role, fills the record's principal
// and role, calls the handler and renders its error.
func (h *handlers) route(method, path string, pm perm, next handlerFunc) http.Handler {
	name := method + " " + path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := reqscope.From(r.Context())
		s.Route = name
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			w.Header().Set("Allow", method)
			failAs(w, r, openai.NewError(http.StatusMethodNotAllowed,
				"method "+r.Method+" is not allowed on "+r.URL.Path, "method_not_allowed"), pm.shape)
			return
		}
		p, err := h.caller(r, s, pm)
		if err == nil {
			err = next(w, r, p)
		}
		if err != nil {
			failAs(w, r, err, pm.shape)
		}
	})
}

// caller authenticates and authorizes the request for pm and records who
// called. A public route has no caller (nil).
func (h *handlers) caller(r *http.Request, s *reqscope.Scope, pm perm) (*auth.Principal, error) {
	if pm.public {
		return nil, nil
	}
	_, span := tracing.Start(r.Context(), h.opts.Tracer, "authenticate")
	p, err := h.opts.Access.AuthenticateHTTP(r)
	span.End()
	if err != nil {
		return nil, err
	}
	s.Principal, s.Role = p.ID, p.Role
	if pm.resource == "" {
		return p, nil
	}
	return p, h.opts.Access.Authorize(p, pm.resource, pm.action, "")
}

// mount is the route adapter of a handler from another package (admin,
// files and batches, cache admin, OAuth2): the same steps as route, with
// the permission looked up in the route table by method and path. The
// caller travels in the context (access.WithPrincipal), so the handler's
// own checks reuse it instead of authenticating again; the handler's
// plain-text errors are rewritten by the frame's writer.
func (h *handlers) mount(pattern string, next http.Handler) http.Handler {
	isPublic := slices.Contains(auth.OAuthPaths, pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := reqscope.From(r.Context())
		pm, route := h.perms.lookup(r)
		if route == "" {
			route = r.Method + " " + pattern
		}
		s.Route = route
		if isPublic {
			sw, _ := w.(*statusWriter)
			if sw != nil && pattern == tokenPath {
				sw.capturing = true
			}
			next.ServeHTTP(w, r)
			h.oauthActor(r, s, sw)
			return
		}
		p, err := h.caller(r, s, pm)
		if err != nil {
			fail(w, r, err)
			return
		}
		r = r.WithContext(access.WithPrincipal(r.Context(), p))
		s.RenderError = func(err error) { fail(w, r, err) }
		next.ServeHTTP(w, r)
	})
}

const tokenPath = "/oauth2/token"

// oauthActor names the OAuth2 client that called an OAuth2 endpoint: the
// client id it authenticated with (HTTP Basic or the form), whether or
// not it succeeded. When the token endpoint issued a token, the token
// itself (verified like any other) names the client and its role.
func (h *handlers) oauthActor(r *http.Request, s *reqscope.Scope, sw *statusWriter) {
	id, _, ok := r.BasicAuth()
	if !ok && r.PostForm != nil {
		id = r.PostForm.Get("client_id")
	}
	if id != "" && len(id) <= 128 {
		s.Principal = id
	}
	if sw == nil || !sw.capturing || sw.status != http.StatusOK {
		return
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if json.Unmarshal(sw.capture, &tok) != nil || tok.AccessToken == "" {
		return
	}
	if p, err := h.opts.Access.Authenticate(r.Context(), tok.AccessToken, nil); err == nil {
		s.Principal, s.Role = p.ID, p.Role
	}
}

// permissions finds the RBAC permission of a mounted route: auth's route
// table plus the routes it leaves out.
type permissions struct{ mux *http.ServeMux }

type permHandler struct {
	perm
	pattern string
}

func (permHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

// extraRoutes are mounted routes missing from auth.Routes().
var extraRoutes = []auth.RoutePermission{
	{Method: "POST", Pattern: "/v1/batch", Resource: auth.ResourceTextGeneration, Action: auth.ActionRead},
	{Method: "GET", Pattern: "/v1/files", Resource: auth.ResourceBatches, Action: auth.ActionRead},
	{Method: "GET", Pattern: "/v1/files/{id}", Resource: auth.ResourceBatches, Action: auth.ActionRead},
	{Method: "DELETE", Pattern: "/v1/files/{id}", Resource: auth.ResourceBatches, Action: auth.ActionDelete},
}

func newPermissions() *permissions {
	mux := http.NewServeMux()
	for _, rp := range append(auth.Routes(), extraRoutes...) {
		pattern := rp.Method + " " + rp.Pattern
		mux.Handle(pattern, permHandler{perm{resource: rp.Resource, action: rp.Action}, pattern})
	}
	return &permissions{mux: mux}
}

// lookup returns r's permission and route pattern; an unknown route needs
// an authenticated caller only (the handler decides the rest).
func (ps *permissions) lookup(r *http.Request) (perm, string) {
	h, _ := ps.mux.Handler(r)
	if ph, ok := h.(permHandler); ok {
		return ph.perm, ph.pattern
	}
	return perm{}, ""
}

// offRoute answers a route that exists but is switched off by the config,
// saying how to turn it on.
func offRoute(msg string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqscope.From(r.Context()).Route = r.Method + " " + r.Pattern
		fail(w, r, openai.NewError(http.StatusNotFound, msg, "feature_disabled"))
	})
}

// offRoutes are dsgate's optional routes and what turns each on.
var offRoutes = []struct {
	paths []string
	msg   string
}{
	{auth.OAuthPaths, "OAuth2 is off: set auth.enabled"},
	{[]string{"/admin/keys", "/admin/keys/", "/admin/clients", "/admin/clients/", "/admin/roles", "/admin/roles/",
		"/admin/usage", "/admin/usage/"}, "the admin API is off: set auth.enabled"},
	{[]string{"/v1/files", "/v1/files/", "/v1/batches", "/v1/batches/"}, "the Files and Batch APIs are off: set batch.api: true"},
	{[]string{"/admin/cache"}, "the response cache is off: set cache.enabled"},
	{[]string{"/v1/batch"}, "POST /v1/batch is not served by this listener"},
}
