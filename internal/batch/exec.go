package batch

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/ratelimit"
)

// Executor runs single requests on behalf of a principal, each through
// the pipeline as a call of its own (admitted, metered, audited).
type Executor struct {
	Pipeline *pipeline.Pipeline
}

// access is the access control the executor's pipeline applies.
func (x *Executor) access() *access.Access { return x.Pipeline.Access() }

// Outcome is the answer to one request: a body with its HTTP status, or
// an error in OpenAI's shape.
type Outcome struct {
	Status int
	Body   []byte // the OpenAI JSON answer when Err is nil
	Usage  openai.Usage
	Err    *openai.Error
	Cause  error // the pipeline error behind Err
}

// Do runs one request body for endpoint e as p, recorded under route
// ("POST /v1/batch#item", "BATCH /v1/chat/completions") with its own
// request id. A streaming request is refused: a batch answer is JSON.
// hdr, when set, is the batch request's headers: its Cache-Control and
// X-Dsgate-Priority apply to the item as to a single request.
func (x *Executor) Do(ctx context.Context, p *auth.Principal, e openai.Endpoint, body []byte, requestID, route, clientAddr string, hdr http.Header) Outcome {
	c := pipeline.Call{Endpoint: e, Body: body, Principal: p}
	if hdr != nil {
		c.CacheControl = strings.Join(hdr.Values("Cache-Control"), ",") // every line counts
		c.HighPriority = hdr.Get("X-Dsgate-Priority") == "high"
	}
	return x.run(ctx, &pipeline.Item{Call: c, RequestID: requestID, Route: route, Method: http.MethodPost, ClientAddr: clientAddr})
}

// Refuse records a request that cannot be run (a malformed batch entry)
// as a failed call of p's, and returns its Outcome.
func (x *Executor) Refuse(ctx context.Context, p *auth.Principal, err error, requestID, route, clientAddr string) Outcome {
	return x.run(ctx, &pipeline.Item{Call: pipeline.Call{Principal: p}, Refused: err,
		RequestID: requestID, Route: route, Method: http.MethodPost, ClientAddr: clientAddr})
}

func (x *Executor) run(ctx context.Context, it *pipeline.Item) Outcome {
	res, err := x.Pipeline.Item(ctx, it)
	if err != nil {
		return fail(err)
	}
	return Outcome{Status: http.StatusOK, Body: res.Body, Usage: res.Usage}
}

// fail is the Outcome of err, through the one error table.
func fail(err error) Outcome {
	ae := apierror.From(err)
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
