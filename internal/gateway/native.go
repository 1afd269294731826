package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/upstream"
)

// Native is a request in an API of its own (the Anthropic Messages API)
// that an upstream serving that API itself (DeepSeek's Anthropic endpoint)
// gets untouched: only the model is renamed to the target's and the auth
// is the upstream's. Every other target gets the call's chat completions
// body (Call.Body, the transport's translation of Native.Body), so a
// fallback from a relaying target to a local engine still works.
//
// The gateway knows nothing of the API: the transport hands over the
// functions that read its usage, so the gateway settles relayed calls like
// any other.
type Native struct {
	// Endpoint is the API, as upstreams serve it (openai.EndpointMessages).
	Endpoint openai.Endpoint
	// Body is the client's request, validated by the transport.
	Body []byte
	// Usage reads the usage of a whole answer.
	Usage func(body []byte) (openai.Usage, bool)
	// EventUsage updates u from one stream event named event (the SSE
	// event name, which is also its data's type).
	EventUsage func(event string, data []byte, u *openai.Usage)
}

// EventSink is a Sink that takes named events: a relayed stream's events
// reach the client as the upstream framed them (event: name, data: ...).
// A call's Native request is relayed on a stream only to an EventSink.
type EventSink interface {
	Sink
	Event(name string, data []byte) error
}

// Names of the Messages API stream events the relay acts on.
const (
	eventStop  = "message_stop"
	eventError = "error"
	eventDelta = "content_block_delta"
	eventStart = "message_start"
)

// relays reports whether the attempt on t sends c's native request.
func (c *Call) relays(t *upstream.Target, sink Sink) bool {
	if c.Native == nil || !t.Upstream.Supports(c.Native.Endpoint) {
		return false
	}
	if sink == nil {
		return true
	}
	_, ok := sink.(EventSink)
	return ok
}

// mayRelay reports whether any target of r or of its fallbacks would get
// c's native request. Such calls skip the cache: an answer in the native
// API is no chat completion to store or replay.
func (g *Gateway) mayRelay(c *Call, r *Route) bool {
	if c.Native == nil {
		return false
	}
	routes := []*Route{r}
	for _, name := range r.Fallbacks {
		if fr, ok := g.routes[name]; ok {
			routes = append(routes, fr)
		}
	}
	for _, rt := range routes {
		for _, t := range rt.Pool.Targets() {
			if t.Upstream.Supports(c.Native.Endpoint) {
				return true
			}
		}
	}
	return false
}

// nativeRequest is c's native body for t: the target's model and, when
// the client chose no thinking mode, the route's default (or a retired
// alias's mode). Nothing else is touched.
func nativeRequest(c *Call, r *Route, t *upstream.Target) ([]byte, error) {
	body := c.Native.Body
	model, retired := upstreamModel(t)
	body, err := openai.SetField(body, "model", quote(model))
	if err != nil || openai.Field(body, "thinking") != nil {
		return body, err
	}
	switch {
	case r.Thinking != nil:
		return openai.SetField(body, "thinking", boolJSON(*r.Thinking, thinkingEnabled, thinkingDisabled))
	case retired != nil:
		return openai.SetField(body, "thinking", boolJSON(retired.Thinking, thinkingEnabled, thinkingDisabled))
	}
	return body, nil
}

// publicModel puts the public model name back into an answer (a Message,
// or the message of a message_start event) when the names differ.
func publicModel(c *Call, t *upstream.Target, b []byte, nested bool) []byte {
	if m, _ := upstreamModel(t); m == c.Req.Model {
		return b
	}
	if !nested {
		if out, err := openai.SetField(b, "model", quote(c.Req.Model)); err == nil {
			return out
		}
		return b
	}
	msg := openai.Field(b, "message")
	if msg == nil {
		return b
	}
	msg, err := openai.SetField(msg, "model", quote(c.Req.Model))
	if err != nil {
		return b
	}
	if out, err := openai.SetField(b, "message", msg); err == nil {
		return out
	}
	return b
}

// completeNative relays a non-streaming native request to t.
func (g *Gateway) completeNative(ctx context.Context, c *Call, r *Route, t *upstream.Target) (*Result, error) {
	u := t.Upstream
	body, err := nativeRequest(c, r, t)
	if err != nil {
		return nil, fmt.Errorf("adapting request: %w", err)
	}
	resp, err := u.Send(ctx, c.Native.Endpoint, body, c.RequestID)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := readBody(resp.Body, resp.ContentLength, g.opts.MaxResponseBytes)
	if err != nil {
		return nil, u.ReadError(ctx, err)
	}
	out = bytes.TrimLeft(out, " \r\n\t") // keep-alive blank lines
	if len(out) == 0 || out[0] != '{' {
		return nil, &upstream.Error{Upstream: u.Name(), Retryable: true, Blame: upstream.BlameUnsure, Err: errNotJSON}
	}
	res := &Result{Body: publicModel(c, t, out, false), Upstream: u.Name(), Model: r.Name, Native: true}
	res.UpstreamModel, _ = upstreamModel(t)
	res.UpstreamKind = u.Kind()
	res.Usage, res.HasUsage = c.Native.Usage(out)
	return res, nil
}

// streamNative relays a native stream from t: each event goes to the
// client as it came (the model renamed in message_start), its usage
// (message_start, message_delta) is read for settlement, an error event
// before the first byte is retried like any failed attempt, and the
// stream ends with message_stop.
func (g *Gateway) streamNative(ctx context.Context, c *Call, r *Route, t *upstream.Target, sink EventSink) (*Result, error) {
	u := t.Upstream
	res := &Result{Upstream: u.Name(), Model: r.Name, Native: true}
	res.UpstreamModel, _ = upstreamModel(t)
	res.UpstreamKind = u.Kind()
	start := time.Now()
	body, err := nativeRequest(c, r, t)
	if err != nil {
		return res, fmt.Errorf("adapting request: %w", err)
	}
	sctx, wd := newWatchdog(ctx, u)
	defer wd.stop()
	resp, err := u.Send(sctx, c.Native.Endpoint, body, c.RequestID)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	rd := openai.NewSSEReader(resp.Body, g.opts.MaxEventBytes)
	defer rd.Release()
	events := 0
	for {
		ev, err := rd.Next()
		if err != nil {
			return res, g.nativeReadError(sctx, u, err, events)
		}
		events++
		if ev.Comment {
			c.onUpstream(u.Name(), res) // a comment sends the headers too
			if err := sink.Comment(ev.Data); err != nil {
				return res, err
			}
			continue
		}
		name := eventName(ev.Data)
		if err := relayEvent(c, t, sink, name, ev.Data, res); err != nil {
			return res, err
		}
		if !res.Started {
			res.Started, res.FirstToken = true, time.Since(start)
		}
		if name == eventStop {
			if rd.Ended() {
				return res, nil // as Stream does at [DONE]: the owner flushes
			}
			err := flush(sink)
			wd.drain(rd, g.opts.DrainWait)
			return res, err
		}
		if err := flushIfIdle(rd, sink); err != nil {
			return res, err
		}
		wd.progress()
	}
}

// relayEvent settles one event's usage and hands it to the sink; an error
// event fails the attempt (retryable while nothing reached the client).
func relayEvent(c *Call, t *upstream.Target, sink EventSink, name string, data []byte, res *Result) error {
	u := t.Upstream
	if name == eventError {
		api := openai.NormalizeUpstreamError(502, data)
		return &upstream.Error{Upstream: u.Name(), Retryable: !res.Started, API: api, Err: errors.New(api.Message)}
	}
	c.Native.EventUsage(name, data, &res.Usage)
	// message_delta's usage has the final figures; without it the stream
	// is charged an estimate (Result.estimateUsage).
	res.HasUsage = res.HasUsage || name == "message_delta" && bytes.Contains(data, usageKey)
	if name == eventStart {
		data = publicModel(c, t, data, true)
	}
	c.onUpstream(u.Name(), res)
	if err := sink.Event(name, data); err != nil {
		return err
	}
	if name == eventDelta {
		res.deltas++
	}
	return nil
}

// nativeReadError classifies the end of a relayed stream before its
// message_stop, as streamOnce does for chat streams.
func (g *Gateway) nativeReadError(ctx context.Context, u *upstream.Upstream, err error, events int) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) && ctx.Err() == nil {
		ue := &upstream.Error{Upstream: u.Name(), Retryable: true, Err: ErrStreamCut}
		if events == 0 {
			ue.Blame = upstream.BlameUnsure
		}
		return ue
	}
	if errors.Is(context.Cause(ctx), ErrStalled) {
		g.opts.Observer.Stall(u.Name())
	}
	return u.ReadError(ctx, err)
}

// eventName is an event's type, which the Messages API repeats as the SSE
// event name.
func eventName(data []byte) string {
	v := openai.Field(data, "type")
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	return string(v[1 : len(v)-1])
}
