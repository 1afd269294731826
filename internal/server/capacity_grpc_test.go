package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/sim"
)

// Issue 22: server.max_connections bounded the HTTP listener only; gRPC
// calls on the gRPC listener were let in without bound, each holding an
// upstream socket and its memory, past the limit the HTTP API refuses at.
// They now take a place of the same limit: past it a call ends at once
// with UNAVAILABLE (which gRPC clients retry), counted with the HTTP
// refusals, and the health service still answers.
func TestMaxConnectionsBoundsGRPCCalls(t *testing.T) {
	t.Parallel()
	e := start(t, `
version: 1
server: {listen: "127.0.0.1:0", max_connections: 2}
log: {access: false}
grpc: {listen: "127.0.0.1:0"}
upstreams:
  - {name: a, kind: openai, url: "$a"}
models:
  - {name: deepseek-chat, targets: [{upstream: a}]}
`, map[string]sim.Options{"a": {TokensPerSecond: 20}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := grpcClient(t, e)
	content, long := "long", int32(1000)
	req := &pb.ChatCompletionRequest{Model: "deepseek-chat", MaxTokens: &long, Messages: []*pb.Message{{Role: "user", Content: &content}}}

	// Two slow streams hold the two places.
	for i := range 2 {
		st, err := client.StreamChatCompletion(ctx, &pb.StreamChatCompletionRequest{Request: req})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Recv(); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	// A third call is refused at once.
	_, err := client.ChatCompletion(ctx, req)
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "limit of 2") {
		t.Fatalf("a call past the limit: %v", err)
	}
	// With the HTTP API's reason and a retry delay, as every gRPC error.
	var reason, retry bool
	for _, d := range status.Convert(err).Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason = d.Reason == "server_overloaded"
		case *errdetails.RetryInfo:
			retry = d.RetryDelay.AsDuration() > 0
		}
	}
	if !reason || !retry {
		t.Errorf("the refusal's details: %v", status.Convert(err).Details())
	}
	// The HTTP API is full too: the places are shared.
	resp, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(mustRequest(t, e.base+"/v1/chat/completions", chatBody))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("an HTTP request with the gRPC calls holding the places: %d", resp.StatusCode)
	}
	// The refusals are counted.
	m, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(mustGet(t, e.base+"/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Body.Close()
	var b strings.Builder
	if _, err := io.Copy(&b, m.Body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `dsgate_ratelimit_rejections_total{limit="capacity"} 2`) {
		t.Errorf("the two refusals are not counted:\n%s", grepLines(b.String(), "capacity"))
	}
}
