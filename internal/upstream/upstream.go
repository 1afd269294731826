package upstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dsgate/dsgate/internal/openai"
)

// Kinds of upstream. They differ in request paths and a few wire quirks.
const (
	KindDeepSeek = "deepseek" // DeepSeek's cloud API
	KindOpenAI   = "openai"   // any OpenAI-compatible engine
)

// Options configure an Upstream.
type Options struct {
	Name              string
	Kind              string // KindDeepSeek or KindOpenAI
	URL               string // server root, without /v1
	APIKey            string
	ReasoningField    string // "reasoning_content" or "reasoning"
	MaxConcurrency    int    // 0: no cap
	ConnectTimeout    time.Duration
	FirstTokenTimeout time.Duration
	IdleTimeout       time.Duration
	// Transport overrides the HTTP transport (tests).
	Transport http.RoundTripper
}

// Upstream is one server. It is safe for concurrent use.
type Upstream struct {
	opts     Options
	base     string
	auth     string // "Bearer <key>" or ""
	client   *http.Client
	inFlight atomic.Int64
}

// New builds an Upstream with its own keep-alive connection pool.
func New(o Options) *Upstream {
	rt := o.Transport
	if rt == nil {
		rt = newTransport(o.ConnectTimeout, o.FirstTokenTimeout)
	}
	u := &Upstream{
		opts:   o,
		base:   strings.TrimRight(o.URL, "/"),
		client: &http.Client{Transport: rt},
	}
	if o.APIKey != "" {
		u.auth = "Bearer " + o.APIKey
	}
	return u
}

func newTransport(connect, header time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ResponseHeaderTimeout: header,
		// Bodies are relayed as they come; decompressing and recompressing
		// them would cost CPU for nothing.
		DisableCompression: true,
	}
}

// Name is the upstream's config name.
func (u *Upstream) Name() string { return u.opts.Name }

// Kind is KindDeepSeek or KindOpenAI.
func (u *Upstream) Kind() string { return u.opts.Kind }

// ReasoningField is the upstream's name for chain-of-thought text.
func (u *Upstream) ReasoningField() string { return u.opts.ReasoningField }

// FirstTokenTimeout bounds the wait for the first stream event.
func (u *Upstream) FirstTokenTimeout() time.Duration { return u.opts.FirstTokenTimeout }

// IdleTimeout bounds the gap between stream events.
func (u *Upstream) IdleTimeout() time.Duration { return u.opts.IdleTimeout }

// InFlight is the number of requests being served now.
func (u *Upstream) InFlight() int64 { return u.inFlight.Load() }

// Available reports whether the upstream can take one more request.
func (u *Upstream) Available() bool {
	return u.opts.MaxConcurrency == 0 || u.inFlight.Load() < int64(u.opts.MaxConcurrency)
}

// Acquire takes a concurrency slot; it fails when the upstream is full.
// Every successful Acquire must be paired with Release.
func (u *Upstream) Acquire() bool {
	n := u.inFlight.Add(1)
	if u.opts.MaxConcurrency > 0 && n > int64(u.opts.MaxConcurrency) {
		u.inFlight.Add(-1)
		return false
	}
	return true
}

// Release returns a slot taken by Acquire.
func (u *Upstream) Release() { u.inFlight.Add(-1) }

// Supports reports whether the upstream serves endpoint e.
func (u *Upstream) Supports(e openai.Endpoint) bool {
	_, ok := u.path(e)
	return ok
}

func (u *Upstream) path(e openai.Endpoint) (string, bool) {
	if u.opts.Kind == KindDeepSeek {
		switch e {
		case openai.EndpointChat:
			return "/chat/completions", true
		case openai.EndpointCompletion, openai.EndpointFIM:
			return "/beta/completions", true
		}
		return "", false // DeepSeek's cloud has no embeddings
	}
	switch e {
	case openai.EndpointChat:
		return "/v1/chat/completions", true
	case openai.EndpointCompletion, openai.EndpointFIM:
		return "/v1/completions", true
	case openai.EndpointEmbedding:
		return "/v1/embeddings", true
	}
	return "", false
}

// Send posts body to the endpoint. A non-2xx answer is returned as an
// *Error with the body read and normalised; on success the caller owns the
// response body and must close it.
func (u *Upstream) Send(ctx context.Context, e openai.Endpoint, body []byte, requestID string) (*http.Response, error) {
	p, ok := u.path(e)
	if !ok {
		return nil, &Error{Upstream: u.Name(), Err: fmt.Errorf("endpoint %s not supported", e)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.base+p, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Upstream: u.Name(), Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if u.auth != "" {
		req.Header.Set("Authorization", u.auth)
	}
	if requestID != "" {
		req.Header.Set("X-Request-Id", requestID)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, u.transportError(ctx, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return nil, &Error{
		Upstream:   u.Name(),
		StatusCode: resp.StatusCode,
		Retryable:  retryableStatus(resp.StatusCode),
		RetryAfter: retryAfter(resp.Header.Get("Retry-After")),
		API:        openai.NormalizeUpstreamError(resp.StatusCode, b),
		Err:        fmt.Errorf("status %d", resp.StatusCode),
	}
}

// transportError classifies a failed round trip. A cancelled request
// context is the caller's doing and is returned as is; anything else is
// worth another target.
func (u *Upstream) transportError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		if c := context.Cause(ctx); c != nil && !errors.Is(c, ctx.Err()) {
			return &Error{Upstream: u.Name(), Retryable: true, Err: c}
		}
		return ctx.Err()
	}
	return &Error{Upstream: u.Name(), Retryable: true, Err: err}
}

// ReadError wraps a failure while reading a response body.
func (u *Upstream) ReadError(ctx context.Context, err error) error {
	return u.transportError(ctx, err)
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}
