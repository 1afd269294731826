package grpcapi

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

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

// call hands body to the pipeline as the caller. hdr, when set, collects
// the answer's headers for its metadata (a batch item, nil, has none of
// its own).
func (sv *service) call(ctx context.Context, e openai.Endpoint, body []byte, hdr *answerHeader, sink gateway.Sink) (*gateway.Result, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	c := &pipeline.Call{Endpoint: e, Body: body, Principal: principalFrom(ctx), Sink: sink,
		HighPriority: first(md, "x-dsgate-priority") == "high", CacheControl: strings.Join(md.Get("cache-control"), ",")}
	hdr.collect(c)
	return sv.o.Pipeline.Run(ctx, c)
}

// complete runs a non-streaming call and returns the OpenAI JSON answer.
func (sv *service) complete(ctx context.Context, e openai.Endpoint, body []byte, hdr *answerHeader) ([]byte, error) {
	res, err := sv.call(ctx, e, body, hdr, nil)
	if err != nil {
		return nil, err
	}
	hdr.answered(res)
	return res.Body, nil
}

// ChatCompletion, like Completion, sends the answer's header metadata once
// the pipeline has returned (the cost is known then) and before the
// reply, with which grpc-go writes it.
func (sv *service) ChatCompletion(ctx context.Context, r *pb.ChatCompletionRequest) (*pb.ChatCompletionResponse, error) {
	hdr := newAnswerHeader(ctx)
	resp, err := sv.chat(ctx, r, hdr)
	if err != nil {
		return nil, sv.fail(ctx, err, hdr)
	}
	hdr.send()
	return resp, nil
}

func (sv *service) chat(ctx context.Context, r *pb.ChatCompletionRequest, hdr *answerHeader) (*pb.ChatCompletionResponse, error) {
	body, err := ChatBody(r, false, false)
	if err != nil {
		return nil, err
	}
	out, err := sv.complete(ctx, openai.EndpointChat, body, hdr)
	if err != nil {
		return nil, err
	}
	return ChatResponse(out)
}

func (sv *service) Completion(ctx context.Context, r *pb.CompletionRequest) (*pb.CompletionResponse, error) {
	hdr := newAnswerHeader(ctx)
	resp, err := sv.completion(ctx, r, hdr)
	if err != nil {
		return nil, sv.fail(ctx, err, hdr)
	}
	hdr.send()
	return resp, nil
}

func (sv *service) completion(ctx context.Context, r *pb.CompletionRequest, hdr *answerHeader) (*pb.CompletionResponse, error) {
	body, err := CompletionBody(r, false, false)
	if err != nil {
		return nil, err
	}
	out, err := sv.complete(ctx, CompletionEndpoint(r), body, hdr)
	if err != nil {
		return nil, err
	}
	return CompletionResponseOf(out)
}

func (sv *service) StreamChatCompletion(r *pb.StreamChatCompletionRequest, ss grpc.ServerStreamingServer[pb.StreamChatCompletionResponse]) error {
	body, err := ChatBody(r.GetRequest(), true, r.GetIncludeUsage())
	if err != nil {
		return sv.fail(ss.Context(), err, nil)
	}
	sink := &chatSink{send: ss.Send, sinkState: sv.sinkState(ss.Context())}
	return sv.stream(ss.Context(), openai.EndpointChat, body, sink, func(e *pb.Error) error {
		return ss.Send(sink.event(&pb.StreamChatCompletionResponse{Event: &pb.StreamChatCompletionResponse_Error{Error: e}}))
	})
}

func (sv *service) StreamCompletion(r *pb.StreamCompletionRequest, ss grpc.ServerStreamingServer[pb.StreamCompletionResponse]) error {
	body, err := CompletionBody(r.GetRequest(), true, r.GetIncludeUsage())
	if err != nil {
		return sv.fail(ss.Context(), err, nil)
	}
	sink := &completionSink{send: ss.Send, sinkState: sv.sinkState(ss.Context())}
	return sv.stream(ss.Context(), CompletionEndpoint(r.GetRequest()), body, sink, func(e *pb.Error) error {
		return ss.Send(sink.event(&pb.StreamCompletionResponse{Event: &pb.StreamCompletionResponse_Error{Error: e}}))
	})
}

// sinkState is a stream sink's state for a call of ctx: the answer's
// header metadata to send before its first event, and whether to hash
// its output for the audit record.
func (sv *service) sinkState(ctx context.Context) sinkState {
	return sinkState{hdr: newAnswerHeader(ctx), digest: sv.o.AuditOutput}
}

// stream runs a streaming call into sink. A failure after the first event
// is sent as an error event too, then returned as the status.
func (sv *service) stream(ctx context.Context, e openai.Endpoint, body []byte, sink streamSink, sendErr func(*pb.Error) error) error {
	st := sink.state()
	res, err := sv.call(ctx, e, body, st.hdr, sink)
	if err == nil {
		err = st.bad
	}
	if st.hash != nil {
		reqscope.From(ctx).OutputSHA256 = hex.EncodeToString(st.hash.Sum(nil))
	}
	if err == nil {
		st.hdr.send() // a stream without events has not sent it yet
		return nil
	}
	// A call cut by the server's shutdown still gets its error event; one
	// whose client left or whose deadline passed has nobody to read it.
	err = apierror.WithCause(ctx, err)
	if res != nil && res.Started && (ctx.Err() == nil || !errors.Is(err, ctx.Err())) {
		_ = sendErr(errorProto(apierror.From(err))) // the status below tells the same
	}
	return sv.fail(ctx, err, st.hdr)
}

// fail records err in the scope, sends the answer's header metadata with
// what HTTP's error answer adds (hdr may be nil: none) and returns err's
// status error.
func (sv *service) fail(ctx context.Context, err error, hdr *answerHeader) error {
	pipeline.Fail(reqscope.From(ctx), err)
	hdr.fail(err)
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
		return nil, sv.fail(ctx, openai.InvalidRequest("items", "items must not be empty"), nil)
	}
	if len(items) > sv.o.MaxBatchItems {
		return nil, sv.fail(ctx, openai.InvalidRequest("items",
			fmt.Sprintf("a batch holds at most %d items, got %d", sv.o.MaxBatchItems, len(items))), nil)
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
	// The item starts now, once it has its place among the Batch's
	// BatchConcurrency, as a POST /v1/batch item does (pipeline.Item): a
	// wait for the place is not the item's latency.
	s := &reqscope.Scope{RequestID: fmt.Sprintf("%s-%d", parent.RequestID, i), Start: time.Now(),
		Route: parent.Route, Principal: parent.Principal, Role: parent.Role}
	ictx := reqscope.With(ctx, s)
	out := &pb.BatchResult{Id: id, Index: int32(i)}
	err := sv.runItem(ictx, it, out)
	code, st := codes.OK, http.StatusOK
	if err != nil {
		ae := pipeline.Fail(s, err)
		code, st = Code(ae.Status), ae.Status
		out.Result = &pb.BatchResult_Error{Error: errorProto(ae)}
	}
	(&interceptors{o: sv.o}).done(ictx, pb.InferenceService_Batch_FullMethodName+"#item", s, code, st)
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
		if resp, err = sv.chat(ctx, req.Chat, nil); err == nil {
			out.Result = &pb.BatchResult_Chat{Chat: resp}
		}
	case *pb.BatchItem_Completion:
		var resp *pb.CompletionResponse
		if resp, err = sv.completion(ctx, req.Completion, nil); err == nil {
			out.Result = &pb.BatchResult_Completion{Completion: resp}
		}
	default:
		err = openai.InvalidRequest("items.request", "an item needs a chat or completion request")
	}
	return err
}
