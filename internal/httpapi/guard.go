package httpapi

import (
	"net/http"
	"slices"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/reqscope"
	"github.com/dsgate/dsgate/internal/tracing"
)

// authedFunc is a handler that knows its caller.
type authedFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal)

// guard authenticates the caller and checks its role for action on
// resource; model allow-lists are checked later, once the body is read.
func (h *handlers) guard(resource, action string, next authedFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := reqscope.From(r.Context())
		_, span := tracing.Start(r.Context(), h.opts.Tracer, "authenticate")
		p, err := h.opts.Access.AuthenticateHTTP(r)
		span.End()
		if err != nil {
			h.fail(w, s, err)
			return
		}
		s.Principal, s.Role = p.ID, p.Role
		if err := h.opts.Access.Authorize(p, resource, action, ""); err != nil {
			h.fail(w, s, err)
			return
		}
		next(w, r, p)
	})
}

// highPriority reports whether the request asks for priority routing and
// its caller's role may ask.
func (h *handlers) highPriority(r *http.Request, p *auth.Principal) bool {
	return r.Header.Get("X-Dsgate-Priority") == "high" &&
		(!h.opts.Access.Enabled() || slices.Contains(h.opts.HighPriorityRoles, p.Role))
}
