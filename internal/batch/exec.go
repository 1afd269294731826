package batch

import (
	"context"
	"errors"
	"net/http"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/ratelimit"
)

// Backend runs non-streaming inference calls; *gateway.Gateway implements it.
type Backend interface {
	Complete(ctx context.Context, c *gateway.Call) (*gateway.Result, error)
}

// Executor runs single requests on behalf of a principal.
type Executor struct {
	// Backend returns the current gateway; it changes on config reload.
	Backend func() Backend
	// Access authorizes and rate-limits, the instance the APIs use.
	Access *access.Access
	// MapError turns a pipeline error into the OpenAI error a client would
	// get over HTTP (the server passes the transports' shared mapping).
	// Nil keeps *openai.Error values and reports anything else as a 500.
	MapError func(error) *openai.Error
}

// Outcome is the answer to one request: a body with its HTTP status, or
// an error in OpenAI's shape.
type Outcome struct {
	Status int
	Body   []byte // the OpenAI JSON answer when Err is nil
	Usage  openai.Usage
	Err    *openai.Error
	Cause  error // the pipeline error behind Err
}

// Do runs one request body for endpoint e as p.
func (x *Executor) Do(ctx context.Context, p *auth.Principal, e openai.Endpoint, body []byte, requestID string) Outcome {
	req, err := openai.Parse(e, body)
	if err != nil {
		return x.fail(err)
	}
	if req.Stream {
		return x.fail(openai.InvalidRequest("stream", "stream is not supported in a batch"))
	}
	resource := auth.ResourceTextGeneration
	if e == openai.EndpointEmbedding {
		resource = auth.ResourceEmbeddings
	}
	if err := x.Access.Authorize(p, resource, auth.ActionRead, req.Model); err != nil {
		return x.fail(err)
	}
	grant, err := x.Access.Admit(ctx, p, req)
	if err != nil {
		return x.fail(err)
	}
	res, err := x.Backend().Complete(ctx, &gateway.Call{Req: req, Body: body, RequestID: requestID, CacheScope: p.LimitKey()})
	if res == nil {
		res = &gateway.Result{}
	}
	grant.Done(ctx, res.Usage, res.Cache == gateway.CacheHit)
	if err != nil {
		return x.fail(err)
	}
	return Outcome{Status: http.StatusOK, Body: res.Body, Usage: res.Usage}
}

func (x *Executor) fail(err error) Outcome {
	var ae *openai.Error
	switch {
	case x.MapError != nil:
		ae = x.MapError(err)
	case errors.As(err, &ae):
	default:
		ae = &openai.Error{Status: http.StatusInternalServerError, Message: "internal error", Type: "server_error", Err: err}
	}
	return Outcome{Status: ae.Status, Err: ae, Cause: err}
}

// rateLimited reports whether o was refused by the caller's own limits,
// and how long to wait before trying again.
func (o Outcome) rateLimited() (wait bool, after int64) {
	var rl *ratelimit.Error
	if errors.As(o.Cause, &rl) && !errors.Is(o.Cause, ratelimit.ErrBackendUnavailable) {
		return true, int64(rl.RetryAfter)
	}
	return false, 0
}
