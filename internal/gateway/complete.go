package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

// Complete serves a non-streaming call: the upstream's whole answer is read,
// checked and adapted before anything reaches the client, so any failure
// can still go to another target.
func (g *Gateway) Complete(ctx context.Context, c *Call) (*Result, error) {
	r, err := g.route(c)
	if err != nil {
		return nil, err
	}
	var res *Result
	n, err := g.attempt(ctx, c, r, func(t *upstream.Target) (bool, error) {
		var err error
		res, err = g.completeOnce(ctx, c, r, t)
		return retryable(err), err
	})
	if err != nil {
		return nil, err
	}
	res.Attempts = n
	return res, nil
}

func (g *Gateway) completeOnce(ctx context.Context, c *Call, r *Route, t *upstream.Target) (*Result, error) {
	u := t.Upstream
	if !u.Acquire() {
		return nil, &upstream.Error{Upstream: u.Name(), Retryable: true, Err: errFull}
	}
	defer u.Release()
	body, err := requestFor(c, r, t)
	if err != nil {
		return nil, fmt.Errorf("adapting request: %w", err)
	}
	resp, err := u.Send(ctx, c.Req.Endpoint, body, c.RequestID)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := readBody(resp.Body, resp.ContentLength, g.opts.MaxResponseBytes)
	if err != nil {
		return nil, u.ReadError(ctx, err)
	}
	// DeepSeek sends blank lines as keep-alives before a queued answer.
	out = bytes.TrimLeft(out, " \r\n\t")
	if len(out) == 0 || out[0] != '{' {
		return nil, &upstream.Error{Upstream: u.Name(), Retryable: true, Err: errNotJSON}
	}
	if incomplete(out) {
		return nil, &upstream.Error{Upstream: u.Name(), Retryable: true, Err: errIncomplete}
	}
	out = newResponseAdapter(c, t).adapt(out)
	res := &Result{Body: out, Upstream: u.Name()}
	res.Usage, res.HasUsage = openai.UsageOf(out)
	return res, nil
}

// readBody reads a whole body into one right-sized buffer when the length
// is known.
func readBody(r io.Reader, n, limit int64) ([]byte, error) {
	if n > limit {
		return nil, errTooLarge
	}
	if n > 0 {
		buf := make([]byte, n)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, err
}
