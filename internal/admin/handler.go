package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/store"
)

// Store is what the admin API reads and writes.
type Store interface {
	store.KeyStore
	store.ClientStore
	store.RoleStore
	store.UsageStore
}

// Options configures the Handler.
type Options struct {
	Store Store
	// Authorize returns the caller of r when it may perform action on
	// resource, else an error wrapping auth.ErrUnauthenticated or
	// auth.ErrForbidden. Required.
	Authorize func(r *http.Request, resource, action string) (*auth.Principal, error)
	// Policy returns the current RBAC policy (it changes on reload), which
	// rejects unknown roles and grants the caller does not hold itself
	// (CheckGrant, CheckDefine, CheckDelete). Required.
	Policy func() *auth.Policy
	// Grants, when set, decides what a caller may hand out to keys and
	// clients instead of Policy: the access control's, which bounds a
	// team's member by its team's models too (access.Access.CheckGrant).
	Grants func() Grants
	// RolesChanged is called after a role is written or deleted, e.g. to
	// reload Policy.SetStoreRoles.
	RolesChanged func(ctx context.Context) error
	// KeyRevoked is called after a key is revoked, e.g.
	// KeyAuthenticator.Forget, so the revocation applies at once locally.
	KeyRevoked   func(id string)
	SecretParams auth.Argon2Params // default auth.DefaultArgon2
	Clock        func() time.Time
	Logger       *slog.Logger
}

// Handler is the http.Handler for /admin/keys, /admin/clients,
// /admin/roles and /admin/usage.
type Handler struct {
	opts Options
	mux  *http.ServeMux
}

// New returns the handler.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil || opts.Authorize == nil || opts.Policy == nil {
		return nil, errors.New("admin: store, authorize and policy are required")
	}
	if opts.SecretParams == (auth.Argon2Params{}) {
		opts.SecretParams = auth.DefaultArgon2
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{opts: opts, mux: http.NewServeMux()}
	h.route("GET /admin/keys", auth.ResourceAdminKeys, auth.ActionRead, h.listKeys)
	h.route("POST /admin/keys", auth.ResourceAdminKeys, auth.ActionCreate, h.createKey)
	h.route("GET /admin/keys/{id}", auth.ResourceAdminKeys, auth.ActionRead, h.getKey)
	h.route("PATCH /admin/keys/{id}", auth.ResourceAdminKeys, auth.ActionUpdate, h.patchKey)
	h.route("DELETE /admin/keys/{id}", auth.ResourceAdminKeys, auth.ActionDelete, h.revokeKey)
	h.route("GET /admin/clients", auth.ResourceAdminClients, auth.ActionRead, h.listClients)
	h.route("POST /admin/clients", auth.ResourceAdminClients, auth.ActionCreate, h.createClient)
	h.route("GET /admin/clients/{id}", auth.ResourceAdminClients, auth.ActionRead, h.getClient)
	h.route("PATCH /admin/clients/{id}", auth.ResourceAdminClients, auth.ActionUpdate, h.patchClient)
	h.route("DELETE /admin/clients/{id}", auth.ResourceAdminClients, auth.ActionDelete, h.revokeClient)
	h.route("GET /admin/roles", auth.ResourceAdminRoles, auth.ActionRead, h.listRoles)
	h.route("GET /admin/roles/{name}", auth.ResourceAdminRoles, auth.ActionRead, h.getRole)
	h.route("PUT /admin/roles/{name}", auth.ResourceAdminRoles, auth.ActionUpdate, h.putRole)
	h.route("DELETE /admin/roles/{name}", auth.ResourceAdminRoles, auth.ActionDelete, h.deleteRole)
	h.route("GET /admin/usage", auth.ResourceAdminUsage, auth.ActionRead, h.usage)
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// apiFunc returns a status and a body to encode, or an error. caller is the
// authorized principal, never nil.
type apiFunc func(r *http.Request, caller *auth.Principal) (int, any, error)

func (h *Handler) route(pattern, resource, action string, fn apiFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		caller, err := h.opts.Authorize(r, resource, action)
		if err == nil && caller == nil {
			err = fmt.Errorf("%w: no principal", auth.ErrForbidden)
		}
		if err != nil {
			h.fail(w, err)
			return
		}
		status, body, err := fn(r, caller)
		if err != nil {
			h.fail(w, err)
			return
		}
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return
		}
		if raw, ok := body.(rawBody); ok { // CSV or a text table (report.go)
			w.Header().Set("Content-Type", raw.contentType)
			w.WriteHeader(status)
			_, _ = w.Write(raw.body)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body) // client gone; nothing to do
	})
}

type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// fail is the one place that maps errors to status codes.
func (h *Handler) fail(w http.ResponseWriter, err error) {
	status, typ, code := http.StatusInternalServerError, "server_error", ""
	msg := err.Error()
	var rl *ratelimit.Error
	switch {
	case errors.As(err, &rl):
		status, typ, code = http.StatusTooManyRequests, "rate_limit_error", "rate_limit_exceeded"
		for k, v := range ratelimit.Headers(err) {
			w.Header()[k] = v
		}
	case errors.Is(err, auth.ErrUnauthenticated):
		status, typ, code = http.StatusUnauthorized, "authentication_error", "invalid_api_key"
		w.Header().Set("WWW-Authenticate", `Bearer realm="dsgate"`)
	case errors.Is(err, auth.ErrForbidden):
		status, typ, code = http.StatusForbidden, "permission_error", "forbidden"
	case errors.Is(err, ErrInvalid), errors.Is(err, auth.ErrUnknownRole):
		status, typ = http.StatusBadRequest, "invalid_request_error"
	case errors.Is(err, store.ErrNotFound):
		status, typ, code = http.StatusNotFound, "not_found_error", "not_found"
	case errors.Is(err, store.ErrConflict):
		status, typ, code = http.StatusConflict, "invalid_request_error", "conflict"
	default:
		h.opts.Logger.Error("admin request failed", "err", err)
		msg = "internal error"
	}
	e := apiError{Message: msg, Type: typ}
	if code != "" {
		e.Code = &code
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]apiError{"error": e})
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.Join(ErrInvalid, err)
	}
	return nil
}

// grants is what decides a caller's grants to keys and clients.
func (h *Handler) grants() Grants {
	if h.opts.Grants != nil {
		return h.opts.Grants()
	}
	return h.opts.Policy()
}
