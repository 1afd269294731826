package grpcapi_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/dsgate/dsgate/internal/gateway"
	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/grpcapi"
)

// panicky panics on any call whose body mentions PANIC.
type panicky struct{ grpcapi.Backend }

func (p panicky) Complete(ctx context.Context, c *gateway.Call) (*gateway.Result, error) {
	if bytes.Contains(c.Body, []byte("PANIC")) {
		panic("injected")
	}
	return p.Backend.Complete(ctx, c)
}

// A batch item that panics runs on a goroutine of its own, out of the
// interceptor's reach: it becomes that item's INTERNAL error, observed like
// any item, and the other items and the process carry on. (Before, the
// panic ended the process.)
func TestBatchItemPanicIsItsOwnError(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	observed := map[string]int{}
	e := startEnv(t, envOptions{
		wrap: func(b grpcapi.Backend) grpcapi.Backend { return panicky{b} },
		observe: func(_ context.Context, c grpcapi.Call) {
			if strings.HasSuffix(c.Method, "#item") {
				mu.Lock()
				observed[c.Code.String()]++
				mu.Unlock()
			}
		}})
	req := &pb.BatchRequest{Items: []*pb.BatchItem{
		{Id: "a", Request: &pb.BatchItem_Chat{Chat: userChat("deepseek-chat", "fine")}},
		{Id: "b", Request: &pb.BatchItem_Chat{Chat: userChat("deepseek-chat", "PANIC")}},
		{Id: "c", Request: &pb.BatchItem_Chat{Chat: userChat("deepseek-chat", "fine too")}},
	}}
	resp, err := e.client.Batch(as(keyAdmin), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Results[1].GetError(); got.GetHttpStatus() != 500 || strings.Contains(got.GetMessage(), "injected") {
		t.Errorf("panicking item: %v", resp.Results[1])
	}
	for _, i := range []int{0, 2} {
		if resp.Results[i].GetChat() == nil {
			t.Errorf("item %d: %v", i, resp.Results[i])
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if observed["OK"] != 2 || observed["Internal"] != 1 {
		t.Errorf("observed %v", observed)
	}
}

// ListModels names only the models the caller may use, like /v1/models.
func TestListModelsOnlyUsableModels(t *testing.T) {
	t.Parallel()
	e := startEnv(t, envOptions{})
	resp, err := e.client.ListModels(as(keyChatOnly), &pb.ListModelsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Models) != 1 || resp.Models[0].Id != "deepseek-chat" {
		t.Errorf("caller allowed deepseek-chat only sees %v", resp.Models)
	}
	if resp, err = e.client.ListModels(as(keyAdmin), &pb.ListModelsRequest{}); err != nil || len(resp.Models) != 2 {
		t.Errorf("admin sees %v (%v)", resp.GetModels(), err)
	}
}
