package grpcapi_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/dsgate/dsgate/internal/gateway"
	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/grpcapi"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/usage"
)

// tokenSum is a usage store that sums the completion tokens it is given.
type tokenSum struct {
	mu         sync.Mutex
	completion int64
}

func (s *tokenSum) AddUsage(_ context.Context, ds []store.UsageDelta) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range ds {
		s.completion += d.CompletionTokens
	}
	return nil
}

func (s *tokenSum) completionTokens() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.completion
}

// oneHangsOn passes every call to the gateway but the one asking "hang",
// which waits for its caller to go; answered is closed once a call passed
// to the gateway has been answered.
type oneHangsOn struct {
	grpcapi.Backend
	answered chan struct{}
	once     sync.Once
}

func (b *oneHangsOn) Complete(ctx context.Context, c *gateway.Call) (*gateway.Result, error) {
	if strings.Contains(string(c.Body), `"hang"`) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	res, err := b.Backend.Complete(ctx, c)
	b.once.Do(func() { close(b.answered) })
	return res, err
}

// A Batch whose answer is never sent is not charged (TestBatchIsChargedOnlyWhenSent):
// its client got nothing. But its answered items are stored in the
// response cache, from which the same client then gets each of them as
// a cache hit, which costs no tokens: a client that cancels its Batch
// once the items it wants are answered, and asks for them again, is
// never charged for tokens the upstream generated for it.
func TestBatchParityUndeliveredItemsAreNotFreeFromTheCache(t *testing.T) {
	t.Parallel()
	sum := &tokenSum{}
	rec := usage.New(sum, usage.Options{})
	hang := &oneHangsOn{answered: make(chan struct{})}
	batchDone := make(chan struct{})
	e := startEnv(t, envOptions{usage: rec, cache: true,
		wrap: func(b grpcapi.Backend) grpcapi.Backend { hang.Backend = b; return hang },
		observe: func(_ context.Context, c grpcapi.Call) {
			if c.Method == pb.InferenceService_Batch_FullMethodName {
				close(batchDone)
			}
		}})
	wanted := userChat("deepseek-chat", "the answer I want")
	wanted.Temperature, wanted.MaxTokens = ptr(0.0), ptr[int32](6)
	ctx, cancel := context.WithCancel(as(keyAdmin))
	go func() { <-hang.answered; cancel() }()
	_, err := e.client.Batch(ctx, &pb.BatchRequest{Items: []*pb.BatchItem{
		{Id: "wanted", Request: &pb.BatchItem_Chat{Chat: wanted}},
		{Id: "hang", Request: &pb.BatchItem_Chat{Chat: userChat("deepseek-chat", "hang")}},
	}})
	if err == nil || !strings.Contains(err.Error(), "Canceled") {
		t.Fatalf("Batch: %v, want the client's cancel", err)
	}
	select {
	case <-batchDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the Batch handler did not return")
	}
	time.Sleep(100 * time.Millisecond) // the send that fails follows the handler
	var hdr metadata.MD
	out, err := e.client.ChatCompletion(as(keyAdmin), wanted, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	got := out.GetUsage().GetCompletionTokens()
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if charged := sum.completionTokens(); charged < int64(got) {
		t.Errorf("the client got an answer of %d completion tokens (x-dsgate-cache %v: the Batch item it cancelled) "+
			"and was charged %d completion tokens in all", got, hdr.Get("x-dsgate-cache"), charged)
	}
}
