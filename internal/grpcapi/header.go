package grpcapi

import (
	"context"
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/pipeline"
)

// answerHeader collects what the HTTP API sends as response headers for
// the same call (httpapi's newCall, writeAnswer and errorHeaders), so that
// a gRPC client learns as much: the x-ratelimit-* state and budget
// warnings the pipeline writes at admission, x-dsgate-cache,
// x-dsgate-upstream or x-dsgate-fallback, and a whole answer's
// x-dsgate-cost, which the pipeline writes only once the call is settled.
//
// send gives them to the call as header metadata, once. A stream sends
// them before its first event (grpc-go writes the header with the first
// message; after it, the header is closed). A unary call sends them after
// the pipeline returned and before the handler does: grpc-go writes a
// unary call's header with its reply, so the cost is known by then and
// needs no trailer.
type answerHeader struct {
	h    http.Header
	ts   grpc.ServerTransportStream // nil outside an RPC: send does nothing
	sent bool
}

func newAnswerHeader(ctx context.Context) *answerHeader {
	return &answerHeader{h: http.Header{}, ts: grpc.ServerTransportStreamFromContext(ctx)}
}

// collect has c write its headers into a. A nil a (a batch item, which
// has no header of its own) collects nothing.
func (a *answerHeader) collect(c *pipeline.Call) {
	if a == nil {
		return
	}
	c.Header = a.h
}

// answered adds what httpapi's writeAnswer puts on a whole answer: the
// upstream that answered, or that the model's fallback_response did. A
// cache hit has neither; x-dsgate-cache says where it came from.
func (a *answerHeader) answered(res *gateway.Result) {
	switch {
	case a == nil:
	case res.Fallback:
		a.h.Set("X-Dsgate-Fallback", "true")
	case res.Upstream != "":
		a.h.Set("X-Dsgate-Upstream", res.Upstream)
	}
}

// send sets what was collected as the call's header metadata; later calls
// do nothing.
func (a *answerHeader) send() {
	if a == nil || a.sent {
		return
	}
	a.sent = true
	if a.ts != nil && len(a.h) > 0 {
		_ = a.ts.SetHeader(toMetadata(a.h)) // fails only once the header went, which sent rules out
	}
}

// fail sends the header with what HTTP's error answer to err adds
// (apierror.Headers): a refusal by a rate limit or a budget tells its state
// and when to retry. Once the header went (a stream that failed after its
// first event) they go in the trailer.
func (a *answerHeader) fail(err error) {
	if a == nil {
		return
	}
	eh := apierror.Headers(err)
	if a.sent {
		if a.ts != nil && len(eh) > 0 {
			_ = a.ts.SetTrailer(toMetadata(eh)) // fails only outside a call
		}
		return
	}
	for k, v := range eh {
		a.h[k] = v
	}
	a.send()
}

// toMetadata is h with gRPC's lowercase keys.
func toMetadata(h http.Header) metadata.MD {
	md := make(metadata.MD, len(h))
	for k, v := range h {
		md[strings.ToLower(k)] = v
	}
	return md
}
