package admin

import (
	"fmt"
	"net/http"
	"time"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
)

func (h *Handler) listKeys(r *http.Request, _ *auth.Principal) (int, any, error) {
	keys, err := h.opts.Store.ListKeys(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]KeyView, 0, len(keys))
	for _, k := range keys {
		out = append(out, ViewKey(k))
	}
	return http.StatusOK, map[string]any{"object": "list", "data": out}, nil
}

func (h *Handler) createKey(r *http.Request, caller *auth.Principal) (int, any, error) {
	var req KeyRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	v, err := CreateKey(r.Context(), h.opts.Store, req, h.opts.Clock(), h.grants(), caller)
	if err != nil {
		return 0, nil, err
	}
	h.opts.Logger.Info("api key created", "key_id", v.ID, "role", v.Role)
	return http.StatusCreated, v, nil
}

func (h *Handler) getKey(r *http.Request, _ *auth.Principal) (int, any, error) {
	k, err := h.opts.Store.Key(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, ViewKey(k), nil
}

func (h *Handler) revokeKey(r *http.Request, caller *auth.Principal) (int, any, error) {
	id := r.PathValue("id")
	if err := RevokeKey(r.Context(), h.opts.Store, id, h.opts.Clock(), h.opts.KeyRevoked, h.grants(), caller); err != nil {
		return 0, nil, err
	}
	h.opts.Logger.Info("api key revoked", "key_id", id)
	return h.getKey(r, nil)
}

func (h *Handler) listClients(r *http.Request, _ *auth.Principal) (int, any, error) {
	cs, err := h.opts.Store.ListClients(r.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]ClientView, 0, len(cs))
	for _, c := range cs {
		out = append(out, ViewClient(c))
	}
	return http.StatusOK, map[string]any{"object": "list", "data": out}, nil
}

func (h *Handler) createClient(r *http.Request, caller *auth.Principal) (int, any, error) {
	var req ClientRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	v, err := CreateClient(r.Context(), h.opts.Store, req, h.opts.Clock(), h.grants(), caller, h.opts.SecretParams)
	if err != nil {
		return 0, nil, err
	}
	h.opts.Logger.Info("oauth client created", "client_id", v.ID, "role", v.Role)
	return http.StatusCreated, v, nil
}

func (h *Handler) getClient(r *http.Request, _ *auth.Principal) (int, any, error) {
	c, err := h.opts.Store.Client(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, ViewClient(c), nil
}

func (h *Handler) revokeClient(r *http.Request, caller *auth.Principal) (int, any, error) {
	id := r.PathValue("id")
	if err := RevokeClient(r.Context(), h.opts.Store, id, h.opts.Clock(), h.grants(), caller); err != nil {
		return 0, nil, err
	}
	h.opts.Logger.Info("oauth client revoked", "client_id", id)
	return h.getClient(r, nil)
}

func (h *Handler) listRoles(r *http.Request, _ *auth.Principal) (int, any, error) {
	roles, err := h.opts.Store.ListRoles(r.Context())
	if err != nil {
		return 0, nil, err
	}
	if roles == nil {
		roles = []store.Role{}
	}
	return http.StatusOK, map[string]any{"object": "list", "data": roles, "builtin": auth.BuiltinRoles()}, nil
}

func (h *Handler) getRole(r *http.Request, _ *auth.Principal) (int, any, error) {
	role, err := h.opts.Store.Role(r.Context(), r.PathValue("name"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, role, nil
}

func (h *Handler) putRole(r *http.Request, caller *auth.Principal) (int, any, error) {
	var role store.Role
	if err := decodeBody(r, &role); err != nil {
		return 0, nil, err
	}
	if role.Name == "" {
		role.Name = r.PathValue("name")
	}
	if role.Name != r.PathValue("name") {
		return 0, nil, fmt.Errorf("%w: name in body differs from path", ErrInvalid)
	}
	if err := auth.ValidateRole(role); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := h.opts.Policy().CheckDefine(caller, role); err != nil {
		return 0, nil, err
	}
	role.UpdatedAt = h.opts.Clock().UTC()
	if err := h.opts.Store.PutRole(r.Context(), role); err != nil {
		return 0, nil, err
	}
	if err := h.rolesChanged(r); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, role, nil
}

func (h *Handler) deleteRole(r *http.Request, caller *auth.Principal) (int, any, error) {
	if err := h.opts.Policy().CheckDelete(caller, r.PathValue("name")); err != nil {
		return 0, nil, err
	}
	if err := h.opts.Store.DeleteRole(r.Context(), r.PathValue("name")); err != nil {
		return 0, nil, err
	}
	if err := h.rolesChanged(r); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (h *Handler) rolesChanged(r *http.Request) error {
	if h.opts.RolesChanged == nil {
		return nil
	}
	if err := h.opts.RolesChanged(r.Context()); err != nil {
		return fmt.Errorf("reloading roles: %w", err)
	}
	return nil
}

// usage answers GET /admin/usage?kind=key|client&id=...&from=YYYY-MM-DD&to=YYYY-MM-DD
// with the buckets and their sum.
func (h *Handler) usage(r *http.Request, _ *auth.Principal) (int, any, error) {
	q := r.URL.Query()
	f := store.UsageFilter{Kind: store.PrincipalKind(q.Get("kind")), PrincipalID: q.Get("id")}
	if !plainText(f.PrincipalID) {
		return 0, nil, fmt.Errorf("%w: id must be valid UTF-8 without control characters", ErrInvalid)
	}
	if f.Kind != "" && f.Kind != store.KindKey && f.Kind != store.KindClient {
		return 0, nil, fmt.Errorf("%w: kind must be key or client", ErrInvalid)
	}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return 0, nil, fmt.Errorf("%w: %s must be YYYY-MM-DD", ErrInvalid, name)
			}
			*dst = t
		}
	}
	rows, err := h.opts.Store.Usage(r.Context(), f)
	if err != nil {
		return 0, nil, err
	}
	type row struct {
		Kind             store.PrincipalKind `json:"kind"`
		ID               string              `json:"id"`
		Model            string              `json:"model"`
		Day              string              `json:"day"`
		Requests         int64               `json:"requests"`
		PromptTokens     int64               `json:"prompt_tokens"`
		CacheHitTokens   int64               `json:"prompt_cache_hit_tokens"`
		CompletionTokens int64               `json:"completion_tokens"`
	}
	out := make([]row, 0, len(rows))
	var total row
	for _, u := range rows {
		out = append(out, row{u.Kind, u.PrincipalID, u.Model, u.Day.Format(time.DateOnly), u.Requests,
			u.PromptTokens, u.CacheHitTokens, u.CompletionTokens})
		total.Requests += u.Requests
		total.PromptTokens += u.PromptTokens
		total.CacheHitTokens += u.CacheHitTokens
		total.CompletionTokens += u.CompletionTokens
	}
	return http.StatusOK, map[string]any{"object": "list", "data": out, "total": map[string]int64{
		"requests": total.Requests, "prompt_tokens": total.PromptTokens,
		"prompt_cache_hit_tokens": total.CacheHitTokens, "completion_tokens": total.CompletionTokens}}, nil
}
