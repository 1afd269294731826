package grpcapi_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/gateway"
	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/grpcapi"
	"github.com/dsgate/dsgate/internal/openai"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/usage"
)

// discardUsage is a usage store that keeps nothing: the tests read the
// recorder's own count of records.
type discardUsage struct{}

func (discardUsage) AddUsage(context.Context, []store.UsageDelta) error { return nil }

// answersAfterHangUp answers each call only once its client has gone:
// an upstream whose answer came just as the caller cancelled.
type answersAfterHangUp struct {
	grpcapi.Backend
	started chan struct{}
	once    sync.Once
}

func (b *answersAfterHangUp) Complete(ctx context.Context, c *gateway.Call) (*gateway.Result, error) {
	b.once.Do(func() { close(b.started) })
	<-ctx.Done()
	return &gateway.Result{Upstream: "a", HasUsage: true,
		Body:  []byte(`{"id":"c","object":"chat.completion","created":1,"model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"late"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}`),
		Usage: openai.Usage{PromptTokens: 3, CompletionTokens: 2, TotalTokens: 5}}, nil
}

// A Batch's usage is recorded once its answer is handed to the transport,
// as POST /v1/batch records it after its flush: a Batch answered is
// charged its items, one whose answer is never sent (the client gone) is
// not charged. Before, the usage was recorded when the handler returned,
// before grpc-go tried to send.
func TestBatchIsChargedOnlyWhenSent(t *testing.T) {
	t.Parallel()
	items := func(n int) *pb.BatchRequest {
		req := &pb.BatchRequest{}
		for range n {
			req.Items = append(req.Items, &pb.BatchItem{Request: &pb.BatchItem_Chat{Chat: userChat("deepseek-chat", "q")}})
		}
		return req
	}
	t.Run("sent", func(t *testing.T) {
		t.Parallel()
		rec := usage.New(discardUsage{}, usage.Options{})
		e := startEnv(t, envOptions{usage: rec})
		if _, err := e.client.Batch(as(keyAdmin), items(3)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for rec.Stats().Records != 3 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := rec.Stats().Records; got != 3 {
			t.Fatalf("%d usage records for 3 items answered", got)
		}
	})
	t.Run("never sent", func(t *testing.T) {
		t.Parallel()
		rec := usage.New(discardUsage{}, usage.Options{})
		late := &answersAfterHangUp{started: make(chan struct{})}
		batchDone := make(chan struct{})
		e := startEnv(t, envOptions{usage: rec,
			wrap: func(b grpcapi.Backend) grpcapi.Backend { late.Backend = b; return late },
			observe: func(_ context.Context, c grpcapi.Call) {
				if c.Method == pb.InferenceService_Batch_FullMethodName {
					close(batchDone)
				}
			}})
		ctx, cancel := context.WithCancel(as(keyAdmin))
		go func() { <-late.started; cancel() }()
		if _, err := e.client.Batch(ctx, items(2)); err == nil || !strings.Contains(err.Error(), "Canceled") {
			t.Fatalf("Batch: %v, want the client's cancel", err)
		}
		select {
		case <-batchDone:
		case <-time.After(10 * time.Second):
			t.Fatal("the Batch handler did not return")
		}
		time.Sleep(200 * time.Millisecond) // the send that fails follows the handler
		if got := rec.Stats().Records; got != 0 {
			t.Fatalf("%d usage records for a Batch whose answer was never sent", got)
		}
	})
}
