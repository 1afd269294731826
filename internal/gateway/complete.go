package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

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
	if l, ok := g.lookup(c, r); ok {
		return g.completeCached(ctx, c, r, l)
	}
	if g.opts.Cache != nil {
		c.onCache(CacheBypass, "")
	}
	res, err := g.complete(ctx, c, r)
	if res != nil && g.opts.Cache != nil {
		res.Cache = CacheBypass
	}
	return res, err
}

// complete calls upstreams for a non-streaming call, without the cache.
func (g *Gateway) complete(ctx context.Context, c *Call, r *Route) (*Result, error) {
	var res *Result
	n, err := g.run(ctx, c, r, func(ctx context.Context, rt *Route, t *upstream.Target) (time.Duration, bool, error) {
		start := time.Now()
		var err error
		if c.relays(t, nil) {
			res, err = g.completeNative(ctx, c, rt, t)
		} else {
			res, err = g.completeOnce(ctx, c, rt, t)
		}
		return time.Since(start), false, err
	})
	if err != nil {
		if fb, ok := g.fallbackAnswer(c, r, err, n); ok {
			return fb, nil
		}
		// The transports record attempts, upstream and model of failed
		// calls too.
		failed := &Result{Model: r.Name, Attempts: n}
		if res != nil {
			failed.Upstream = res.Upstream
		}
		return failed, err
	}
	res.Attempts = n
	return res, nil
}

func (g *Gateway) completeOnce(ctx context.Context, c *Call, r *Route, t *upstream.Target) (*Result, error) {
	u := t.Upstream
	body, err := requestFor(c, r, t)
	if err != nil {
		return nil, fmt.Errorf("adapting request: %w", err)
	}
	resp, err := u.Send(ctx, sendEndpoint(c), body, c.RequestID)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := readBody(resp.Body, resp.ContentLength, g.opts.MaxResponseBytes)
	if err != nil {
		return nil, u.ReadError(ctx, err)
	}
	if mode, _ := t.FIM(); c.Req.FIM() && mode == upstream.FIMInfill {
		if out, err = infillCompletion(c, out, g.opts.Now()); err != nil {
			return nil, &upstream.Error{Upstream: u.Name(), Retryable: true, Blame: upstream.BlameUnsure, Err: errNotJSON}
		}
	}
	// DeepSeek sends blank lines as keep-alives before a queued answer.
	out = bytes.TrimLeft(out, " \r\n\t")
	if len(out) == 0 || out[0] != '{' {
		// Unreadable as asked for: compared with another target like an
		// unexplained 500 (a body that makes every upstream answer in
		// another format is the request's fault).
		return nil, &upstream.Error{Upstream: u.Name(), Retryable: true, Blame: upstream.BlameUnsure, Err: errNotJSON}
	}
	if incomplete(out) {
		return nil, &upstream.Error{Upstream: u.Name(), Retryable: true, Err: errIncomplete}
	}
	out = newResponseAdapter(c, t).adapt(out)
	res := &Result{Body: out, Upstream: u.Name(), Model: r.Name}
	res.UpstreamModel, _ = upstreamModel(t)
	res.UpstreamKind = u.Kind()
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

// fallbackAnswer builds the configured fallback response for a chat call
// that every target failed.
// It is counted (FallbackResponder) and logged with the attempts made.
func (g *Gateway) fallbackAnswer(c *Call, r *Route, err error, attempts int) (*Result, bool) {
	var ex *ExhaustedError
	if r.FallbackResponse == "" || c.Req.Endpoint != openai.EndpointChat ||
		!(errors.As(err, &ex) || errors.Is(err, upstream.ErrNoTarget)) {
		return nil, false
	}
	if fr, ok := g.opts.Observer.(FallbackResponder); ok {
		fr.FallbackResponse(r.Name)
	}
	g.opts.Logger.LogAttrs(context.Background(), slog.LevelWarn, "answered with the fallback response",
		slog.String("request_id", c.RequestID), slog.String("model", r.Name), slog.Int("attempts", attempts),
		slog.String("error", err.Error()))
	return &Result{Body: fallbackBody(c, r, g.opts.Now()), Model: r.Name, Fallback: true, Attempts: attempts}, true
}

func fallbackBody(c *Call, r *Route, now time.Time) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"id":"fallback-%s","object":"chat.completion","created":%d,"model":%s,"system_fingerprint":"dsgate_fallback",`,
		c.RequestID, now.Unix(), quote(c.Req.Model))
	fmt.Fprintf(&b, `"choices":[{"index":0,"message":{"role":"assistant","content":%s},"logprobs":null,"finish_reason":"stop"}],`,
		quote(r.FallbackResponse))
	b.WriteString(`"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}`)
	return b.Bytes()
}
