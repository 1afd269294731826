package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

// ErrModelNotFound is returned for a model name no route serves.
var ErrModelNotFound = errors.New("model not found")

// Route is a public model and the pool serving it.
type Route struct {
	Name     string
	OwnedBy  string
	Thinking *bool // default thinking mode, applied when the client chose none
	Pool     *upstream.Pool
}

// Options configure a Gateway.
type Options struct {
	Routes []Route
	// MaxAttempts bounds the targets tried for one request. Default 3.
	MaxAttempts int
	// MaxResponseBytes bounds a non-streaming upstream body. Default 64 MiB.
	MaxResponseBytes int64
	// MaxEventBytes bounds one SSE line. Default 4 MiB.
	MaxEventBytes int
	Logger        *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Gateway serves inference calls. It is immutable after New and safe for
// concurrent use; a config reload builds a new one.
type Gateway struct {
	routes  map[string]*Route
	models  []Model
	opts    Options
	created int64
}

// Model is one entry of the model list.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// New builds a Gateway.
func New(o Options) *Gateway {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 64 << 20
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = 4 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g := &Gateway{routes: map[string]*Route{}, opts: o, created: o.Now().Unix()}
	for i := range o.Routes {
		r := &o.Routes[i]
		g.routes[r.Name] = r
		g.models = append(g.models, Model{ID: r.Name, Object: "model", Created: g.created, OwnedBy: r.OwnedBy})
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

// Call is one inference request as the transports hand it over.
type Call struct {
	Req       *openai.Request
	Body      []byte // the client's JSON body, validated
	RequestID string
}

// Result describes a finished call. For Complete, Body is the response to
// send; for Stream it is nil.
type Result struct {
	Body     []byte
	Usage    openai.Usage
	HasUsage bool
	Upstream string
	Attempts int
	Started  bool // Stream only: data reached the client
}

func (g *Gateway) route(c *Call) (*Route, error) {
	r, ok := g.routes[c.Req.Model]
	if !ok {
		return nil, &openai.Error{
			Status:  404,
			Message: "The model `" + c.Req.Model + "` does not exist or you do not have access to it.",
			Type:    "invalid_request_error",
			Param:   "model",
			Code:    "model_not_found",
			Err:     ErrModelNotFound,
		}
	}
	return r, nil
}

// attempt loops over targets until try succeeds, fails for good, or no
// target is left. try reports whether the failure still allows a retry.
func (g *Gateway) attempt(ctx context.Context, c *Call, r *Route, try func(t *upstream.Target) (retry bool, err error)) (int, error) {
	var tried []*upstream.Target
	var lastErr error
	for len(tried) < g.opts.MaxAttempts {
		t := r.Pool.Next(tried)
		if t == nil {
			break
		}
		tried = append(tried, t)
		if !t.Upstream.Supports(c.Req.Endpoint) {
			lastErr = &openai.Error{Status: 400, Type: "invalid_request_error", Param: "model",
				Message: "model " + r.Name + " does not support the " + c.Req.Endpoint.String() + " endpoint"}
			continue
		}
		retry, err := try(t)
		if err == nil {
			return len(tried), nil
		}
		lastErr = err
		if !retry || ctx.Err() != nil {
			return len(tried), err
		}
		g.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "upstream attempt failed",
			slog.String("request_id", c.RequestID), slog.String("upstream", t.Upstream.Name()),
			slog.String("error", err.Error()))
	}
	if lastErr == nil {
		lastErr = upstream.ErrNoTarget
	}
	return len(tried), lastErr
}

// quote renders s as a JSON string.
func quote(s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return b
}
