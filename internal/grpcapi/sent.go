package grpcapi

import (
	"context"

	"google.golang.org/grpc/stats"

	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
)

// sentHandler runs what a Batch RPC leaves to its answer's send. A unary
// answer is sent after the handler returns; grpc-go reports it to stats
// handlers (stats.OutPayload) once it is handed to the transport, and
// not at all when the send fails (the client gone, the stream reset).
// The Batch records its items' usage there, as POST /v1/batch records it
// after its flush: a batch never answered is never charged.
type sentHandler struct{}

type sentKey struct{}

// onSent holds the function a Batch runs once its answer is sent.
type onSent struct{ run func() }

// whenSent arranges for f to run once the answer of ctx's RPC is sent,
// and reports false (f will not run) for an RPC the handler does not
// watch.
func whenSent(ctx context.Context, f func()) bool {
	s, ok := ctx.Value(sentKey{}).(*onSent)
	if ok {
		s.run = f
	}
	return ok
}

func (sentHandler) TagRPC(ctx context.Context, info *stats.RPCTagInfo) context.Context {
	if info.FullMethodName != pb.InferenceService_Batch_FullMethodName {
		return ctx
	}
	return context.WithValue(ctx, sentKey{}, &onSent{})
}

// HandleRPC runs on the RPC's goroutine, after the handler returned: the
// function set by whenSent needs no lock.
func (sentHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.OutPayload); !ok {
		return
	}
	if o, ok := ctx.Value(sentKey{}).(*onSent); ok && o.run != nil {
		o.run()
		o.run = nil
	}
}

func (sentHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }

func (sentHandler) HandleConn(context.Context, stats.ConnStats) {}
