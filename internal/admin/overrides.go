package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/pricing"
	"github.com/dsgate/dsgate/internal/store"
)

// BudgetEntry is a budget as the admin API, the CLI and the store write
// it: budgets.rules' keys.
type BudgetEntry struct {
	Subject  string  `json:"subject" yaml:"subject"`
	Period   string  `json:"period" yaml:"period"`
	Amount   string  `json:"amount" yaml:"amount"`
	Currency string  `json:"currency" yaml:"currency"`
	Soft     float64 `json:"soft,omitempty" yaml:"soft"`
}

// Name is the override's name: "subject/period/currency".
func (b BudgetEntry) Name() string { return b.Subject + "/" + b.Period + "/" + b.Currency }

// PriceName is a price override's name: "model@upstream@effective_from"
// (RFC 3339, or empty for always), unique like the price book's entries.
func PriceName(m pricing.ModelPrice) string {
	from := ""
	if !m.EffectiveFrom.IsZero() {
		from = m.EffectiveFrom.UTC().Format(time.RFC3339)
	}
	return m.Model + "@" + m.Upstream + "@" + from
}

// CostOverrides are the runtime price and budget entries, parsed.
type CostOverrides struct {
	Prices  []pricing.ModelPrice
	Budgets []BudgetEntry
}

// LoadCostOverrides reads and parses the stored overrides.
func LoadCostOverrides(ctx context.Context, cs store.CostOverrideStore) (CostOverrides, error) {
	var out CostOverrides
	ps, err := cs.ListCostOverrides(ctx, store.OverridePrice)
	if err != nil {
		return out, err
	}
	for _, o := range ps {
		var m pricing.ModelPrice
		if err := strictYAML(strings.NewReader(o.Body), &m); err != nil {
			return out, fmt.Errorf("price override %s: %w", o.Name, err)
		}
		out.Prices = append(out.Prices, m)
	}
	bs, err := cs.ListCostOverrides(ctx, store.OverrideBudget)
	if err != nil {
		return out, err
	}
	for _, o := range bs {
		var b BudgetEntry
		if err := json.Unmarshal([]byte(o.Body), &b); err != nil {
			return out, fmt.Errorf("budget override %s: %w", o.Name, err)
		}
		out.Budgets = append(out.Budgets, b)
	}
	return out, nil
}

// strictYAML decodes YAML (JSON included) refusing unknown keys: a price
// entry has the config file's keys and types (time.Time, lists).
func strictYAML(r io.Reader, v any) error {
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// OverrideOptions let the cost handler manage runtime overrides.
type OverrideOptions struct {
	Store store.CostOverrideStore
	// Validate checks the configuration with next as its overrides (the
	// price book compiles, the budgets are valid); an error is the
	// caller's (400).
	Validate func(next CostOverrides) error
	// Changed applies the stored overrides at once on this replica
	// (others pick them up within their refresh period).
	Changed func(ctx context.Context) error
}

// mountOverrides adds /admin/prices and /admin/budgets/overrides. Reads
// need admin:usage read; writes admin:usage update or delete, which only
// the admin role has among the built-in roles.
func (c *costHandler) mountOverrides() {
	h := c.h
	h.route("GET /admin/prices", auth.ResourceAdminUsage, auth.ActionRead, c.listPrices)
	h.route("PUT /admin/prices/{model}", auth.ResourceAdminUsage, auth.ActionUpdate, c.putPrice)
	h.route("DELETE /admin/prices/{model}", auth.ResourceAdminUsage, auth.ActionDelete, c.deletePrice)
	h.route("GET /admin/budgets/overrides", auth.ResourceAdminUsage, auth.ActionRead, c.listBudgetOverrides)
	h.route("PUT /admin/budgets/{subject}/{period}/{currency}", auth.ResourceAdminUsage, auth.ActionUpdate, c.putBudget)
	h.route("DELETE /admin/budgets/{subject}/{period}/{currency}", auth.ResourceAdminUsage, auth.ActionDelete, c.deleteBudget)
}

func (c *costHandler) overrides() (OverrideOptions, error) {
	o := c.o.Overrides
	if o.Store == nil {
		return o, fmt.Errorf("%w: runtime cost overrides need a SQL store", ErrInvalid)
	}
	return o, nil
}

func (c *costHandler) current(ctx context.Context) (OverrideOptions, CostOverrides, error) {
	o, err := c.overrides()
	if err != nil {
		return o, CostOverrides{}, err
	}
	cur, err := LoadCostOverrides(ctx, o.Store)
	return o, cur, err
}

func (c *costHandler) applied(ctx context.Context, o OverrideOptions) {
	if o.Changed != nil {
		if err := o.Changed(ctx); err != nil {
			c.o.Logger.Warn("applying cost overrides", "err", err)
		}
	}
}

func (c *costHandler) listPrices(r *http.Request, _ *auth.Principal) (int, any, error) {
	_, cur, err := c.current(r.Context())
	if err != nil {
		return 0, nil, err
	}
	views := make([]map[string]any, 0, len(cur.Prices))
	for _, m := range cur.Prices {
		views = append(views, priceView(m))
	}
	return http.StatusOK, map[string]any{"object": "list", "data": views}, nil
}

// priceKey reads the entry's identity from the path and query:
// PUT /admin/prices/{model}?upstream=NAME&effective_from=RFC3339.
func priceKey(r *http.Request) (pricing.ModelPrice, error) {
	m := pricing.ModelPrice{Model: r.PathValue("model"), Upstream: r.URL.Query().Get("upstream")}
	if v := r.URL.Query().Get("effective_from"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return m, fmt.Errorf("%w: effective_from must be RFC 3339", ErrInvalid)
		}
		m.EffectiveFrom = t
	}
	return m, nil
}

func (c *costHandler) putPrice(r *http.Request, p *auth.Principal) (int, any, error) {
	o, cur, err := c.current(r.Context())
	if err != nil {
		return 0, nil, err
	}
	key, err := priceKey(r)
	if err != nil {
		return 0, nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var m pricing.ModelPrice
	if err := strictYAML(bytes.NewReader(body), &m); err != nil {
		return 0, nil, err
	}
	if (m.Model != "" && m.Model != key.Model) || (m.Upstream != "" && m.Upstream != key.Upstream) ||
		(!m.EffectiveFrom.IsZero() && !m.EffectiveFrom.Equal(key.EffectiveFrom)) {
		return 0, nil, fmt.Errorf("%w: model, upstream and effective_from are given by the URL", ErrInvalid)
	}
	m.Model, m.Upstream, m.EffectiveFrom = key.Model, key.Upstream, key.EffectiveFrom
	name := PriceName(m)
	next := cur
	next.Prices = append(removePrice(cur.Prices, name), m)
	if o.Validate != nil {
		if err := o.Validate(next); err != nil {
			return 0, nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	if err := o.Store.PutCostOverride(r.Context(), store.CostOverride{Kind: store.OverridePrice, Name: name,
		Body: priceYAML(m), UpdatedBy: principalID(p), UpdatedAt: c.o.Clock()}); err != nil {
		return 0, nil, err
	}
	c.applied(r.Context(), o)
	c.o.Logger.Info("price override written", "price", name, "by", principalID(p))
	return http.StatusOK, priceView(m), nil
}

// priceYAML stores the entry with the config file's keys (yaml tags),
// which strictYAML reads back.
func priceYAML(m pricing.ModelPrice) string {
	b, err := yaml.Marshal(m)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// priceView is the entry as the API shows it: the config file's keys
// (pricing.ModelPrice has no JSON tags), empty ones left out.
func priceView(m pricing.ModelPrice) map[string]any {
	var v map[string]any
	if err := yaml.Unmarshal([]byte(priceYAML(m)), &v); err != nil {
		return nil
	}
	for k, x := range v {
		if isEmpty(x) {
			delete(v, k)
		}
	}
	return v
}

// isEmpty reports whether a decoded YAML value is its type's zero.
func isEmpty(x any) bool {
	switch x := x.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case time.Time:
		return x.IsZero()
	}
	return false
}

func removePrice(ps []pricing.ModelPrice, name string) []pricing.ModelPrice {
	out := make([]pricing.ModelPrice, 0, len(ps))
	for _, p := range ps {
		if PriceName(p) != name {
			out = append(out, p)
		}
	}
	return out
}

func (c *costHandler) deletePrice(r *http.Request, p *auth.Principal) (int, any, error) {
	o, err := c.overrides()
	if err != nil {
		return 0, nil, err
	}
	key, err := priceKey(r)
	if err != nil {
		return 0, nil, err
	}
	if err := o.Store.DeleteCostOverride(r.Context(), store.OverridePrice, PriceName(key)); err != nil {
		return 0, nil, err
	}
	c.applied(r.Context(), o)
	c.o.Logger.Info("price override deleted", "price", PriceName(key), "by", principalID(p))
	return http.StatusNoContent, nil, nil
}

func (c *costHandler) listBudgetOverrides(r *http.Request, _ *auth.Principal) (int, any, error) {
	_, cur, err := c.current(r.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"object": "list", "data": nonNil(cur.Budgets)}, nil
}

// BudgetRequest is the body of PUT /admin/budgets/{subject}/{period}/{currency}.
type BudgetRequest struct {
	Amount string  `json:"amount"`
	Soft   float64 `json:"soft"`
}

func (c *costHandler) putBudget(r *http.Request, p *auth.Principal) (int, any, error) {
	o, cur, err := c.current(r.Context())
	if err != nil {
		return 0, nil, err
	}
	var req BudgetRequest
	if err := decodeBody(r, &req); err != nil {
		return 0, nil, err
	}
	b := BudgetEntry{Subject: r.PathValue("subject"), Period: r.PathValue("period"), Currency: r.PathValue("currency"),
		Amount: req.Amount, Soft: req.Soft}
	if err := PutBudget(r.Context(), o, cur, b, principalID(p), c.o.Clock(), c.o.Logger); err != nil {
		return 0, nil, err
	}
	c.o.Logger.Info("budget override written", "budget", b.Name(), "by", principalID(p))
	return http.StatusOK, b, nil
}

// PutBudget writes the runtime budget b over cur (the stored overrides,
// LoadCostOverrides) after o.Validate accepts the result, then applies it
// (o.Changed; a failure there is logged). o.Store must not be nil.
func PutBudget(ctx context.Context, o OverrideOptions, cur CostOverrides, b BudgetEntry, by string, now time.Time, log *slog.Logger) error {
	if o.Store == nil {
		return fmt.Errorf("%w: runtime cost overrides need a SQL store", ErrInvalid)
	}
	next := cur
	next.Budgets = append(removeBudget(cur.Budgets, b.Name()), b)
	if o.Validate != nil {
		if err := o.Validate(next); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	body, _ := json.Marshal(b)
	if err := o.Store.PutCostOverride(ctx, store.CostOverride{Kind: store.OverrideBudget, Name: b.Name(),
		Body: string(body), UpdatedBy: by, UpdatedAt: now}); err != nil {
		return err
	}
	applyOverrides(ctx, o, log)
	return nil
}

// DeleteBudget removes the runtime budget named name
// ("subject/period/currency") and applies the change.
func DeleteBudget(ctx context.Context, o OverrideOptions, name string, log *slog.Logger) error {
	if o.Store == nil {
		return fmt.Errorf("%w: runtime cost overrides need a SQL store", ErrInvalid)
	}
	if err := o.Store.DeleteCostOverride(ctx, store.OverrideBudget, name); err != nil {
		return err
	}
	applyOverrides(ctx, o, log)
	return nil
}

func applyOverrides(ctx context.Context, o OverrideOptions, log *slog.Logger) {
	if o.Changed != nil {
		if err := o.Changed(ctx); err != nil && log != nil {
			log.Warn("applying cost overrides", "err", err)
		}
	}
}

func removeBudget(bs []BudgetEntry, name string) []BudgetEntry {
	out := make([]BudgetEntry, 0, len(bs))
	for _, b := range bs {
		if b.Name() != name {
			out = append(out, b)
		}
	}
	return out
}

func (c *costHandler) deleteBudget(r *http.Request, p *auth.Principal) (int, any, error) {
	o, err := c.overrides()
	if err != nil {
		return 0, nil, err
	}
	name := r.PathValue("subject") + "/" + r.PathValue("period") + "/" + r.PathValue("currency")
	if err := DeleteBudget(r.Context(), o, name, c.o.Logger); err != nil {
		return 0, nil, err
	}
	c.o.Logger.Info("budget override deleted", "budget", name, "by", principalID(p))
	return http.StatusNoContent, nil, nil
}

func principalID(p *auth.Principal) string {
	if p == nil {
		return ""
	}
	return p.ID
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
