package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// service implements pb.InferenceServiceServer. Every inference RPC goes
// through admit (parse, model allow-list, rate limits) and settle, the
// same steps as internal/httpapi's inference handler.
type service struct {
	pb.UnimplementedInferenceServiceServer
	o Options
}

// call hands body to the pipeline as the caller. With headers set, the
// rate-limit state and the cache result go out as response metadata (a
// batch item has no headers of its own).
func (sv *service) call(ctx context.Context, e openai.Endpoint, body []byte, headers bool, sink gateway.Sink) (*gateway.Result, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	c := &pipeline.Call{Endpoint: e, Body: body, Principal: principalFrom(ctx), Sink: sink,
		HighPriority: first(md, "x-dsgate-priority") == "high", CacheControl: first(md, "cache-control")}
	if headers {
		c.OnAdmit = func(g *access.Grant) {
			if h := g.Headers(); len(h) > 0 {
				out := metadata.MD{}
				for k, v := range h {
					out.Append(strings.ToLower(k), v...)
				}
				grpc.SetHeader(ctx, out) // fails only outside a call
			}
		}
		c.OnCache = func(result, tier string) {
			h := metadata.Pairs("x-dsgate-cache", result)
			if tier != "" {
				h.Append("x-dsgate-cache-tier", tier)
			}
			grpc.SetHeader(ctx, h) // fails only outside a call
		}
	}
	return sv.o.Pipeline.Run(ctx, c)
}

// complete runs a non-streaming call and returns the OpenAI JSON answer.
func (sv *service) complete(ctx context.Context, e openai.Endpoint, body []byte, headers bool) ([]byte, error) {
	res, err := sv.call(ctx, e, body, headers, nil)
	if err != nil {
		return nil, err
	}
	return res.Body, nil
}

func (sv *service) ChatCompletion(ctx context.Context, r *pb.ChatCompletionRequest) (*pb.ChatCompletionResponse, error) {
	resp, err := sv.chat(ctx, r, true)
	if err != nil {
		return nil, sv.fail(ctx, err)
	}
	return resp, nil
}

func (sv *service) chat(ctx context.Context, r *pb.ChatCompletionRequest, headers bool) (*pb.ChatCompletionResponse, error) {
	body, err := ChatBody(r, false, false)
	if err != nil {
		return nil, err
	}
	out, err := sv.complete(ctx, openai.EndpointChat, body, headers)
	if err != nil {
		return nil, err
	}
	return ChatResponse(out)
}

func (sv *service) Completion(ctx context.Context, r *pb.CompletionRequest) (*pb.CompletionResponse, error) {
	resp, err := sv.completion(ctx, r, true)
	if err != nil {
		return nil, sv.fail(ctx, err)
	}
	return resp, nil
}

func (sv *service) completion(ctx context.Context, r *pb.CompletionRequest, headers bool) (*pb.CompletionResponse, error) {
	body, err := CompletionBody(r, false, false)
	if err != nil {
		return nil, err
	}
	out, err := sv.complete(ctx, CompletionEndpoint(r), body, headers)
	if err != nil {
		return nil, err
	}
	return CompletionResponseOf(out)
}

func (sv *service) StreamChatCompletion(r *pb.StreamChatCompletionRequest, ss grpc.ServerStreamingServer[pb.StreamChatCompletionResponse]) error {
	body, err := ChatBody(r.GetRequest(), true, r.GetIncludeUsage())
	if err != nil {
		return sv.fail(ss.Context(), err)
	}
	sink := &chatSink{send: ss.Send}
	return sv.stream(ss.Context(), openai.EndpointChat, body, sink, func(e *pb.Error) error {
		return ss.Send(sink.event(&pb.StreamChatCompletionResponse{Event: &pb.StreamChatCompletionResponse_Error{Error: e}}))
	})
}

func (sv *service) StreamCompletion(r *pb.StreamCompletionRequest, ss grpc.ServerStreamingServer[pb.StreamCompletionResponse]) error {
	body, err := CompletionBody(r.GetRequest(), true, r.GetIncludeUsage())
	if err != nil {
		return sv.fail(ss.Context(), err)
	}
	sink := &completionSink{send: ss.Send}
	return sv.stream(ss.Context(), CompletionEndpoint(r.GetRequest()), body, sink, func(e *pb.Error) error {
		return ss.Send(sink.event(&pb.StreamCompletionResponse{Event: &pb.StreamCompletionResponse_Error{Error: e}}))
	})
}

// stream runs a streaming call into sink. A failure after the first event
// is sent as an error event too, then returned as the status.
func (sv *service) stream(ctx context.Context, e openai.Endpoint, body []byte, sink streamSink, sendErr func(*pb.Error) error) error {
	res, err := sv.call(ctx, e, body, true, sink)
	if err == nil {
		err = sink.err()
	}
	if err == nil {
		return nil
	}
	// A call cut by the server's shutdown still gets its error event; one
	// whose client left or whose deadline passed has nobody to read it.
	err = apierror.WithCause(ctx, err)
	if res != nil && res.Started && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
		_ = sendErr(errorProto(apierror.From(err))) // the status below tells the same
	}
	return sv.fail(ctx, err)
}

// fail records err in the scope and returns its status error.
func (sv *service) fail(ctx context.Context, err error) error {
	pipeline.Fail(reqscope.From(ctx), err)
	return Status(err).Err()
}

func (sv *service) ListModels(ctx context.Context, _ *pb.ListModelsRequest) (*pb.ListModelsResponse, error) {
	out := &pb.ListModelsResponse{}
	p := principalFrom(ctx)
	for _, m := range sv.o.Backend().Models() {
		if p != nil && sv.o.Access.Authorize(p, auth.ResourceModels, auth.ActionRead, m.ID) != nil {
			continue // list only the models the caller may use
		}
		out.Models = append(out.Models, &pb.Model{Id: m.ID, Object: m.Object, Created: m.Created, OwnedBy: m.OwnedBy})
	}
	return out, nil
}

// Batch runs every item through the unary pipeline with bounded
// concurrency; each item is admitted, rate-limited and observed on its own.
func (sv *service) Batch(ctx context.Context, r *pb.BatchRequest) (*pb.BatchResponse, error) {
	items := r.GetItems()
	if len(items) == 0 {
		return nil, sv.fail(ctx, openai.InvalidRequest("items", "items must not be empty"))
	}
	if len(items) > sv.o.MaxBatchItems {
		return nil, sv.fail(ctx, openai.InvalidRequest("items",
			fmt.Sprintf("a batch holds at most %d items, got %d", sv.o.MaxBatchItems, len(items))))
	}
	parent := reqscope.From(ctx)
	// The items' usage is recorded once the answer is sent (sentHandler),
	// not before: a batch never answered is never charged.
	ctx, held := access.HoldUsage(ctx)
	if !whenSent(ctx, held.Release) {
		defer held.Release()
	}
	results := make([]*pb.BatchResult, len(items))
	sem := make(chan struct{}, sv.o.BatchConcurrency)
	done := make(chan struct{})
	for i, it := range items {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; done <- struct{}{} }()
			results[i] = sv.batchItem(ctx, parent, i, it)
		}()
	}
	for range items {
		<-done
	}
	return &pb.BatchResponse{Results: results}, nil
}

func (sv *service) batchItem(ctx context.Context, parent *reqscope.Scope, i int, it *pb.BatchItem) *pb.BatchResult {
	id := it.GetId()
	if id == "" {
		id = fmt.Sprint(i)
	}
	s := &reqscope.Scope{RequestID: fmt.Sprintf("%s-%d", parent.RequestID, i), Start: parent.Start,
		Route: parent.Route, Principal: parent.Principal, Role: parent.Role}
	ictx := reqscope.With(ctx, s)
	out := &pb.BatchResult{Id: id, Index: int32(i)}
	err := sv.runItem(ictx, it, out)
	code := codes.OK
	if err != nil {
		ae := pipeline.Fail(s, err)
		code = Code(ae.Status)
		out.Result = &pb.BatchResult_Error{Error: errorProto(ae)}
	}
	(&interceptors{o: sv.o}).done(ictx, pb.InferenceService_Batch_FullMethodName+"#item", s, code)
	return out
}

// runItem runs one batch item into out. A panic is this item's INTERNAL
// error, not the process's end: items run on goroutines of their own,
// where no interceptor can recover.
func (sv *service) runItem(ctx context.Context, it *pb.BatchItem, out *pb.BatchResult) (err error) {
	defer func() {
		if pe := pipeline.Recovered(recover()); pe != nil {
			sv.o.Logger.Error("panic serving batch item", "request_id", reqscope.From(ctx).RequestID,
				"panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
			err = pe
		}
	}()
	switch req := it.GetRequest().(type) {
	case *pb.BatchItem_Chat:
		var resp *pb.ChatCompletionResponse
		if resp, err = sv.chat(ctx, req.Chat, false); err == nil {
			out.Result = &pb.BatchResult_Chat{Chat: resp}
		}
	case *pb.BatchItem_Completion:
		var resp *pb.CompletionResponse
		if resp, err = sv.completion(ctx, req.Completion, false); err == nil {
			out.Result = &pb.BatchResult_Completion{Completion: resp}
		}
	default:
		err = openai.InvalidRequest("items.request", "an item needs a chat or completion request")
	}
	return err
}
