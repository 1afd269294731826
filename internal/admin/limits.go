package admin

import (
	"context"
	"fmt"
	"net/http"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/store"
)

// LimitsRequest is the body of PATCH /admin/keys/{id} and
// /admin/clients/{id}: the new model allow-list and limits (replacing the
// old ones; empty models: every model the role allows, 0: the default).
type LimitsRequest struct {
	Models        []string `json:"models"`
	RPM           int64    `json:"rpm"`
	TPM           int64    `json:"tpm"`
	MaxConcurrent int64    `json:"max_concurrent"`
}

func (l LimitsRequest) limits() store.Limits {
	return store.Limits{Models: l.Models, RPM: l.RPM, TPM: l.TPM, MaxConcurrent: l.MaxConcurrent}
}

// KeyLimitStore is what SetKeyLimits needs.
type KeyLimitStore interface {
	store.KeyStore
	store.LimitStore
}

// SetKeyLimits replaces an existing key's models and limits with the same
// checks as CreateKey (the caller must hold the key's role and the models
// it grants), then calls forget (nil: none) so a cache of verified keys
// rereads it.
func SetKeyLimits(ctx context.Context, st KeyLimitStore, id string, req LimitsRequest, grants Grants, caller *auth.Principal, forget func(id string)) (KeyView, error) {
	k, err := st.Key(ctx, id)
	if err != nil {
		return KeyView{}, err
	}
	if err := checkCommon(k.Name, k.Role, req.Models, req.RPM, req.TPM, req.MaxConcurrent, grants, caller); err != nil {
		return KeyView{}, err
	}
	if err := st.SetKeyLimits(ctx, id, req.limits()); err != nil {
		return KeyView{}, err
	}
	if forget != nil {
		forget(id)
	}
	if k, err = st.Key(ctx, id); err != nil {
		return KeyView{}, err
	}
	return ViewKey(k), nil
}

// ClientLimitStore is what SetClientLimits needs.
type ClientLimitStore interface {
	store.ClientStore
	store.LimitStore
}

// SetClientLimits replaces an existing client's models and limits with the
// same checks as CreateClient. Token verifiers cache clients: the change
// applies on each replica within its cache period.
func SetClientLimits(ctx context.Context, st ClientLimitStore, id string, req LimitsRequest, grants Grants, caller *auth.Principal) (ClientView, error) {
	c, err := st.Client(ctx, id)
	if err != nil {
		return ClientView{}, err
	}
	if err := checkCommon(c.Name, c.Role, req.Models, req.RPM, req.TPM, req.MaxConcurrent, grants, caller); err != nil {
		return ClientView{}, err
	}
	if err := st.SetClientLimits(ctx, id, req.limits()); err != nil {
		return ClientView{}, err
	}
	if c, err = st.Client(ctx, id); err != nil {
		return ClientView{}, err
	}
	return ViewClient(c), nil
}

// limitsRequest is the store that changes limits and the decoded body of
// a PATCH of a key's or a client's limits.
func (h *Handler) limitsRequest(r *http.Request) (store.LimitStore, LimitsRequest, error) {
	var req LimitsRequest
	ls, ok := h.opts.Store.(store.LimitStore)
	if !ok {
		return nil, req, fmt.Errorf("%w: this store cannot change limits", ErrInvalid)
	}
	err := decodeBody(r, &req)
	return ls, req, err
}

func (h *Handler) patchKey(r *http.Request, caller *auth.Principal) (int, any, error) {
	ls, req, err := h.limitsRequest(r)
	if err != nil {
		return 0, nil, err
	}
	st := struct {
		store.KeyStore
		store.LimitStore
	}{h.opts.Store, ls}
	v, err := SetKeyLimits(r.Context(), st, r.PathValue("id"), req, h.grants(), caller, h.opts.KeyRevoked)
	if err != nil {
		return 0, nil, err
	}
	h.opts.Logger.Info("api key limits set", "key_id", v.ID)
	return http.StatusOK, v, nil
}

func (h *Handler) patchClient(r *http.Request, caller *auth.Principal) (int, any, error) {
	ls, req, err := h.limitsRequest(r)
	if err != nil {
		return 0, nil, err
	}
	st := struct {
		store.ClientStore
		store.LimitStore
	}{h.opts.Store, ls}
	v, err := SetClientLimits(r.Context(), st, r.PathValue("id"), req, h.grants(), caller)
	if err != nil {
		return 0, nil, err
	}
	h.opts.Logger.Info("oauth client limits set", "client_id", v.ID)
	return http.StatusOK, v, nil
}
