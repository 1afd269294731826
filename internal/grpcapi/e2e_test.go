package grpcapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/grpcapi"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/testkit"
)

func TestUnaryChatAndModels(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{})
	var hdr metadata.MD
	ctx := metadata.AppendToOutgoingContext(as(keyAdmin), "x-request-id", "req-42")
	resp, err := e.client.ChatCompletion(ctx, &pb.ChatCompletionRequest{
		Model: "deepseek-reasoner", Messages: []*pb.Message{{Role: "user", Content: ptr("hello")}}, MaxTokens: ptr[int32](8),
	}, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	if got := hdr.Get("x-request-id"); len(got) != 1 || got[0] != "req-42" {
		t.Errorf("x-request-id header = %v", got)
	}
	if resp.Object != "chat.completion" || resp.Model != "deepseek-reasoner" || len(resp.Choices) != 1 {
		t.Fatalf("response %v", resp)
	}
	ch := resp.Choices[0]
	if ch.Message.GetContent() == "" || ch.Message.GetReasoningContent() == "" || ch.Message.Role != "assistant" {
		t.Errorf("message %v", ch.Message)
	}
	if ch.FinishReason != pb.FinishReason_FINISH_REASON_LENGTH || ch.RawFinishReason != "length" {
		t.Errorf("finish %v %q", ch.FinishReason, ch.RawFinishReason)
	}
	if u := resp.Usage; u.GetCompletionTokens() != 8 || u.GetTotalTokens() == 0 || u.PromptCacheHitTokens == nil {
		t.Errorf("usage %v", u)
	}
	models, err := e.client.ListModels(as(keyAdmin), &pb.ListModelsRequest{})
	if err != nil || len(models.Models) != 2 || models.Models[0].Id != "deepseek-chat" || models.Models[0].Created == 0 {
		t.Fatalf("models %v %v", models, err)
	}
}

func TestCompletionAndFIM(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{})
	c, err := e.client.Completion(as(keyAdmin), &pb.CompletionRequest{Model: "deepseek-chat", Prompt: "def fib(a):"})
	if err != nil || len(c.Choices) != 1 || c.Choices[0].Text == "" || c.Object != "text_completion" {
		t.Fatalf("completion %v %v", c, err)
	}
	f, err := e.client.Completion(as(keyAdmin), &pb.CompletionRequest{Model: "deepseek-chat", Prompt: "def fib(a):",
		Suffix: ptr("    return fib(a-1) + fib(a-2)"), MaxTokens: ptr[int32](6)})
	if err != nil || f.Choices[0].Text == "" || f.Usage.GetCompletionTokens() != 6 {
		t.Fatalf("FIM %v %v", f, err)
	}
	st, err := e.client.StreamCompletion(as(keyAdmin), &pb.StreamCompletionRequest{
		Request: &pb.CompletionRequest{Model: "deepseek-chat", Prompt: "x", MaxTokens: ptr[int32](5)}, IncludeUsage: true})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var usage *pb.Usage
	var last *pb.StreamCompletionResponse
	for {
		ev, err := st.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		text.WriteString(ev.GetText())
		if ev.GetUsage() != nil {
			usage = ev.GetUsage()
		}
		last = ev
	}
	if text.Len() == 0 || usage.GetCompletionTokens() != 5 || last.GetFinish() == nil {
		t.Errorf("stream text %q usage %v last %v", text.String(), usage, last)
	}
}

// collect reads a chat stream to its end.
func collect(t *testing.T, st grpc.ServerStreamingClient[pb.StreamChatCompletionResponse]) ([]*pb.StreamChatCompletionResponse, error) {
	t.Helper()
	var evs []*pb.StreamChatCompletionResponse
	for {
		ev, err := st.Recv()
		if err == io.EOF {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, ev)
	}
}

func TestStreamingEventsEndWithFinish(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{})
	st, err := e.client.StreamChatCompletion(as(keyAdmin), &pb.StreamChatCompletionRequest{
		Request: &pb.ChatCompletionRequest{Model: "deepseek-reasoner", MaxTokens: ptr[int32](10),
			Messages: []*pb.Message{{Role: "user", Content: ptr("hello")}}},
		IncludeUsage: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(t, st)
	if err != nil {
		t.Fatal(err)
	}
	var content, reasoning strings.Builder
	var usage *pb.Usage
	id := evs[0].Id
	for _, ev := range evs {
		if ev.Id != id || ev.Model != "deepseek-reasoner" || ev.Created == 0 {
			t.Fatalf("event header differs: %v", ev)
		}
		if d := ev.GetDelta(); d != nil {
			content.WriteString(d.GetContent())
			reasoning.WriteString(d.GetReasoningContent())
		}
		if u := ev.GetUsage(); u != nil {
			usage = u
		}
	}
	if content.Len() == 0 || reasoning.Len() == 0 {
		t.Errorf("content %q reasoning %q", content.String(), reasoning.String())
	}
	if usage.GetCompletionTokens() != 10 {
		t.Errorf("usage %v", usage)
	}
	if f := evs[len(evs)-1].GetFinish(); f == nil || f.Reason != pb.FinishReason_FINISH_REASON_LENGTH {
		t.Errorf("last event %v, want finish(length)", evs[len(evs)-1])
	}
}

func TestStreamingToolCallsKeepIndex(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{})
	params, _ := structFrom(map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}})
	st, err := e.client.StreamChatCompletion(as(keyAdmin), &pb.StreamChatCompletionRequest{
		Request: &pb.ChatCompletionRequest{Model: "deepseek-chat",
			Messages: []*pb.Message{{Role: "user", Content: ptr("what is the weather in Paris?")}},
			Tools:    []*pb.Tool{{Type: "function", Function: &pb.FunctionDefinition{Name: "get_weather", Parameters: params}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(t, st)
	if err != nil {
		t.Fatal(err)
	}
	var name, args strings.Builder
	var id string
	for _, ev := range evs {
		for _, tc := range ev.GetDelta().GetToolCalls() {
			if tc.Index != 0 {
				t.Errorf("tool call index %d, want 0 throughout", tc.Index)
			}
			name.WriteString(tc.GetName())
			id += tc.GetId()
			args.WriteString(tc.Arguments)
		}
	}
	if name.String() != "get_weather" || id == "" || !json.Valid([]byte(args.String())) {
		t.Errorf("tool call name %q id %q args %q", name.String(), id, args.String())
	}
	if f := evs[len(evs)-1].GetFinish(); f.GetReason() != pb.FinishReason_FINISH_REASON_TOOL_CALLS {
		t.Errorf("finish %v", evs[len(evs)-1])
	}
}

// TestSameAnswerOverHTTPAndGRPC sends one request over both transports:
// content, reasoning and usage must be equal.
func TestSameAnswerOverHTTPAndGRPC(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{})
	oc := openai.NewClient(option.WithBaseURL(e.http+"/v1/"), option.WithAPIKey(keyAdmin), option.WithMaxRetries(0))
	hresp, err := oc.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:       "deepseek-reasoner",
		Messages:    []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("be brief"), openai.UserMessage("explain quantum computing")},
		MaxTokens:   openai.Int(12),
		Temperature: openai.Float(0.7),
	})
	if err != nil {
		t.Fatal(err)
	}
	gresp, err := e.client.ChatCompletion(as(keyAdmin), &pb.ChatCompletionRequest{
		Model:       "deepseek-reasoner",
		Messages:    []*pb.Message{{Role: "system", Content: ptr("be brief")}, {Role: "user", Content: ptr("explain quantum computing")}},
		MaxTokens:   ptr[int32](12),
		Temperature: ptr(0.7),
	})
	if err != nil {
		t.Fatal(err)
	}
	var hmsg struct {
		ReasoningContent string `json:"reasoning_content"`
	}
	json.Unmarshal([]byte(hresp.Choices[0].Message.RawJSON()), &hmsg)
	g := gresp.Choices[0]
	if g.Message.GetContent() != hresp.Choices[0].Message.Content || g.Message.GetReasoningContent() != hmsg.ReasoningContent {
		t.Errorf("content differs:\nhttp %q / %q\ngrpc %q / %q", hresp.Choices[0].Message.Content, hmsg.ReasoningContent,
			g.Message.GetContent(), g.Message.GetReasoningContent())
	}
	hu, gu := hresp.Usage, gresp.Usage
	if int64(gu.PromptTokens) != hu.PromptTokens || int64(gu.CompletionTokens) != hu.CompletionTokens ||
		int64(gu.TotalTokens) != hu.TotalTokens || int64(gu.GetReasoningTokens()) != hu.CompletionTokensDetails.ReasoningTokens {
		t.Errorf("usage differs: http %s grpc %v", hu.RawJSON(), gu)
	}
	if g.RawFinishReason != string(hresp.Choices[0].FinishReason) {
		t.Errorf("finish differs: %q vs %q", g.RawFinishReason, hresp.Choices[0].FinishReason)
	}

	// And streamed: the concatenated deltas equal the HTTP stream's.
	hs := oc.Chat.Completions.NewStreaming(context.Background(), openai.ChatCompletionNewParams{
		Model: "deepseek-chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi there")},
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	var acc openai.ChatCompletionAccumulator
	for hs.Next() {
		acc.AddChunk(hs.Current())
	}
	if err := hs.Err(); err != nil {
		t.Fatal(err)
	}
	gs, err := e.client.StreamChatCompletion(as(keyAdmin), &pb.StreamChatCompletionRequest{
		Request: userChat("deepseek-chat", "hi there"), IncludeUsage: true})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := collect(t, gs)
	if err != nil {
		t.Fatal(err)
	}
	var content strings.Builder
	var usage *pb.Usage
	for _, ev := range evs {
		content.WriteString(ev.GetDelta().GetContent())
		if ev.GetUsage() != nil {
			usage = ev.GetUsage()
		}
	}
	if content.String() != acc.Choices[0].Message.Content || int64(usage.GetTotalTokens()) != acc.Usage.TotalTokens {
		t.Errorf("stream differs: http %q %d, grpc %q %v", acc.Choices[0].Message.Content, acc.Usage.TotalTokens, content.String(), usage)
	}
}

func TestClientCancelStopsUpstream(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{sim: sim.Options{TokensPerSecond: 20}})
	ctx, cancel := context.WithCancel(as(keyAdmin))
	st, err := e.client.StreamChatCompletion(ctx, &pb.StreamChatCompletionRequest{
		Request: &pb.ChatCompletionRequest{Model: "deepseek-chat", MaxTokens: ptr[int32](1000),
			Messages: []*pb.Message{{Role: "user", Content: ptr("hi")}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil { // the stream has started
		t.Fatal(err)
	}
	if e.sim.Stats().Running != 1 {
		t.Fatalf("running = %d", e.sim.Stats().Running)
	}
	cancel()
	if _, err := collect(t, st); status.Code(err) != codes.Canceled {
		t.Errorf("after cancel: %v, want Canceled", err)
	}
	testkit.Eventually(t, 3*time.Second, "the upstream request to end", func() bool { return e.sim.Stats().Running == 0 })
}

// TestErrorMapping checks every mapped code, its details, and that the
// HTTP API answers the same request with the matching status.
func TestErrorMapping(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{})
	tests := []struct {
		name   string
		key    string
		model  string
		body   string // HTTP body, for the cross-check
		mutate func(*pb.ChatCompletionRequest)
		code   codes.Code
		status int
		reason string
	}{
		{"no credentials", "", "deepseek-chat", "", nil, codes.Unauthenticated, 401, "invalid_api_key"},
		{"bad key", "dsg_nope", "deepseek-chat", "", nil, codes.Unauthenticated, 401, "invalid_api_key"},
		{"model not allowed", keyChatOnly, "deepseek-reasoner", "", nil, codes.PermissionDenied, 403, "permission_denied"},
		{"unknown model", keyAdmin, "gpt-9", "", nil, codes.NotFound, 404, "model_not_found"},
		{"bad temperature", keyAdmin, "deepseek-chat", `{"model":"deepseek-chat","temperature":3,"messages":[{"role":"user","content":"x"}]}`,
			func(r *pb.ChatCompletionRequest) { r.Temperature = ptr(3.0) }, codes.InvalidArgument, 400, "invalid_request_error"},
		{"no messages", keyAdmin, "deepseek-chat", `{"model":"deepseek-chat","messages":[]}`,
			func(r *pb.ChatCompletionRequest) { r.Messages = nil }, codes.InvalidArgument, 400, "invalid_request_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := userChat(tt.model, "x")
			if tt.mutate != nil {
				tt.mutate(req)
			}
			ctx := context.Background()
			if tt.key != "" {
				ctx = as(tt.key)
			}
			_, err := e.client.ChatCompletion(ctx, req)
			checkStatus(t, err, tt.code, tt.reason, tt.status)
			body := tt.body
			if body == "" {
				body = `{"model":"` + tt.model + `","messages":[{"role":"user","content":"x"}]}`
			}
			if got := httpStatus(t, e.http, tt.key, body); got != tt.status {
				t.Errorf("HTTP status %d, want %d", got, tt.status)
			}
		})
	}
	t.Run("analyst may not list models", func(t *testing.T) {
		_, err := e.client.ListModels(as(keyAnalyst), &pb.ListModelsRequest{})
		checkStatus(t, err, codes.PermissionDenied, "permission_denied", 403)
	})
	t.Run("rate limited with retry info", func(t *testing.T) {
		if _, err := e.client.ChatCompletion(as(keyLimited), userChat("deepseek-chat", "x")); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.ChatCompletion(as(keyLimited), userChat("deepseek-chat", "x"))
		st := checkStatus(t, err, codes.ResourceExhausted, "rate_limit_exceeded", 429)
		if d := retryDelay(st); d <= 0 {
			t.Errorf("no RetryInfo on %v", st.Details())
		}
		if got := httpStatus(t, e.http, keyLimited, `{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}]}`); got != 429 {
			t.Errorf("HTTP status %d, want 429", got)
		}
	})
}

func TestUpstreamFailureIsUnavailable(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{sim: sim.Options{Faults: sim.Faults{ErrorRate: 1, ErrorStatus: 500}}})
	_, err := e.client.ChatCompletion(as(keyAdmin), userChat("deepseek-chat", "x"))
	st := checkStatus(t, err, codes.Unavailable, "", 0)
	if retryDelay(st) <= 0 {
		t.Errorf("no RetryInfo on UNAVAILABLE")
	}
	httpCode := httpStatus(t, e.http, keyAdmin, `{"model":"deepseek-chat","messages":[{"role":"user","content":"x"}]}`)
	if grpcapi.Code(httpCode) != codes.Unavailable {
		t.Errorf("HTTP said %d, which maps to %v", httpCode, grpcapi.Code(httpCode))
	}
}

func TestDeadlines(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{sim: sim.Options{TTFT: 3 * time.Second}, requestTimeout: 150 * time.Millisecond})
	// The server's own request timeout: 504 over HTTP, DEADLINE_EXCEEDED here.
	_, err := e.client.ChatCompletion(as(keyAdmin), userChat("deepseek-chat", "x"))
	checkStatus(t, err, codes.DeadlineExceeded, "timeout_error", 504)
	// The client's deadline.
	ctx, cancel := context.WithTimeout(as(keyAdmin), 50*time.Millisecond)
	defer cancel()
	_, err = e.client.ChatCompletion(ctx, userChat("deepseek-chat", "x"))
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("client deadline: %v", err)
	}
}

func TestHealthAndReflection(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{})
	h := healthpb.NewHealthClient(e.conn)
	for _, svc := range []string{"", pb.InferenceService_ServiceDesc.ServiceName} {
		r, err := h.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q: %v %v", svc, r, err)
		}
	}
	rc, err := reflectionpb.NewServerReflectionClient(e.conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	r, err := rc.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range r.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	if !strings.Contains(strings.Join(names, ","), "dsgate.v1.InferenceService") {
		t.Errorf("reflection lists %v", names)
	}
}

func TestBatchRPCKeepsOrderAndItemErrors(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var items int
	e := startEnv(t, envOptions{observe: func(_ context.Context, c grpcapi.Call) {
		if strings.HasSuffix(c.Method, "#item") {
			mu.Lock()
			items++
			mu.Unlock()
		}
	}})
	req := &pb.BatchRequest{}
	for i := range 12 {
		model := "deepseek-chat"
		if i%4 == 3 {
			model = "nope"
		}
		req.Items = append(req.Items, &pb.BatchItem{Id: "item-" + strconv.Itoa(i),
			Request: &pb.BatchItem_Chat{Chat: userChat(model, "q"+strconv.Itoa(i))}})
	}
	req.Items = append(req.Items, &pb.BatchItem{Id: "fim", Request: &pb.BatchItem_Completion{
		Completion: &pb.CompletionRequest{Model: "deepseek-chat", Prompt: "a", Suffix: ptr("b")}}})
	resp, err := e.client.Batch(as(keyAdmin), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != 13 {
		t.Fatalf("%d results", len(resp.Results))
	}
	for i, r := range resp.Results[:12] {
		if r.Id != "item-"+strconv.Itoa(i) || r.Index != int32(i) {
			t.Errorf("result %d is %s/%d", i, r.Id, r.Index)
		}
		if i%4 == 3 {
			if r.GetError().GetHttpStatus() != 404 {
				t.Errorf("item %d: %v, want its own 404", i, r)
			}
		} else if r.GetChat().GetChoices()[0].GetMessage().GetContent() == "" {
			t.Errorf("item %d: %v", i, r)
		}
	}
	if resp.Results[12].GetCompletion() == nil {
		t.Errorf("fim item: %v", resp.Results[12])
	}
	mu.Lock()
	defer mu.Unlock()
	if items != 13 {
		t.Errorf("observed %d items", items)
	}
}

func checkStatus(t *testing.T, err error, code codes.Code, reason string, httpStatus int) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("code %v (%v), want %v", st.Code(), err, code)
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info == nil || info.Domain != "dsgate" {
		t.Fatalf("no ErrorInfo in %v", st.Details())
	}
	if reason != "" && info.Reason != reason {
		t.Errorf("reason %q, want %q", info.Reason, reason)
	}
	if httpStatus != 0 && info.Metadata["http_status"] != strconv.Itoa(httpStatus) {
		t.Errorf("http_status %q, want %d", info.Metadata["http_status"], httpStatus)
	}
	return st
}

func retryDelay(st *status.Status) time.Duration {
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.RetryDelay.AsDuration()
		}
	}
	return 0
}

func httpStatus(t *testing.T, base, key, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestCacheSharedAcrossTransports: an answer cached by an HTTP call is a
// hit for the same request over gRPC, and the hit is reported in headers.
func TestCacheSharedAcrossTransports(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{cache: true})
	body := `{"model":"deepseek-chat","temperature":0,"max_tokens":6,"messages":[{"role":"user","content":"cache me"}]}`
	req, _ := http.NewRequest("POST", e.http+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+keyAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Dsgate-Cache"); got != "miss" {
		t.Fatalf("HTTP x-dsgate-cache = %q", got)
	}
	before := e.sim.Stats().Requests
	var hdr metadata.MD
	r := userChat("deepseek-chat", "cache me")
	r.Temperature, r.MaxTokens = ptr(0.0), ptr[int32](6)
	out, err := e.client.ChatCompletion(as(keyAdmin), r, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	if got := hdr.Get("x-dsgate-cache"); len(got) != 1 || got[0] != "hit" {
		t.Errorf("gRPC x-dsgate-cache = %v", got)
	}
	if e.sim.Stats().Requests != before || out.Choices[0].Message.GetContent() == "" {
		t.Errorf("upstream called again (%d -> %d) or empty answer", before, e.sim.Stats().Requests)
	}
}

// TestObserveHook: the observer sees each finished call with what the
// pipeline recorded, for metrics and audit.
func TestObserveHook(t *testing.T) {
	t.Parallel()
	calls := make(chan grpcapi.Call, 4)
	e := startEnv(t, envOptions{observe: func(_ context.Context, c grpcapi.Call) { calls <- c }})
	if _, err := e.client.ChatCompletion(as(keyAdmin), userChat("deepseek-chat", "observe me")); err != nil {
		t.Fatal(err)
	}
	c := <-calls
	s := c.Scope
	if c.Method != pb.InferenceService_ChatCompletion_FullMethodName || c.Code != codes.OK || s.Principal != "admin" ||
		s.Model != "deepseek-chat" || s.Upstream != "a" || s.CompletionTokens == 0 || len(s.Input) == 0 || len(s.Output) == 0 {
		t.Errorf("observed %+v scope %+v", c, s)
	}
	e.client.ChatCompletion(as("dsg_bad"), userChat("deepseek-chat", "x"))
	if c := <-calls; c.Code != codes.Unauthenticated || c.Scope.Err == nil {
		t.Errorf("observed failure %+v", c)
	}
}
