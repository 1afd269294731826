package grpcapi_test

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/grpcapi"
)

// A stream's header metadata, sent with its first event, names the
// upstream that answers and the caller's rate-limit state, as HTTP's SSE
// headers do; a stream refused by the rate limit gets the limit's state
// and retry delay, and its record the 429 HTTP records and the caller's
// address.
func TestStreamMetadata(t *testing.T) {
	t.Parallel()
	calls := make(chan grpcapi.Call, 4)
	e := startEnv(t, envOptions{observe: func(_ context.Context, c grpcapi.Call) { calls <- c }})
	open := func() (pb.InferenceService_StreamChatCompletionClient, error) {
		return e.client.StreamChatCompletion(as(keyLimited), &pb.StreamChatCompletionRequest{Request: userChat("deepseek-chat", "hi")})
	}

	st, err := open()
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := st.Header()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := st.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if got := hdr.Get("x-dsgate-upstream"); len(got) != 1 || got[0] != "a" {
		t.Errorf("x-dsgate-upstream %v, want [a] (metadata %v)", got, hdr)
	}
	if got := hdr.Get("x-ratelimit-limit-requests"); len(got) != 1 || got[0] != "1" {
		t.Errorf("x-ratelimit-limit-requests %v, want [1] (metadata %v)", got, hdr)
	}
	if c := <-calls; c.Status != 200 || c.Code != codes.OK || !strings.HasPrefix(c.ClientAddr, "127.0.0.1:") {
		t.Errorf("observed the answered stream as status %d, code %v, client %q", c.Status, c.Code, c.ClientAddr)
	}

	st, err = open()
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Recv()
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second stream of a 1 RPM key: %v, want RESOURCE_EXHAUSTED", err)
	}
	hdr, _ = st.Header()
	if got := hdr.Get("x-ratelimit-remaining-requests"); len(got) != 1 || got[0] != "0" {
		t.Errorf("refusal's x-ratelimit-remaining-requests %v, want [0] (metadata %v)", got, hdr)
	}
	var delay time.Duration
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.RetryDelay.AsDuration()
		}
	}
	if delay < 30*time.Second {
		t.Errorf("refusal's RetryInfo %v, want the wait for the next request of a 1 RPM limit", delay)
	}
	if c := <-calls; c.Status != 429 || c.Code != codes.ResourceExhausted {
		t.Errorf("observed the refusal as status %d, code %v, want 429", c.Status, c.Code)
	}
}
