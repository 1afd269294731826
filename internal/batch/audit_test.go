package batch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"

	"github.com/dsgate/dsgate/internal/batch"
	"github.com/dsgate/dsgate/internal/testkit"
)

// Each item of POST /v1/batch is a call of its own: one audit record per
// item, naming the principal, the model and the tokens; a malformed
// entry is recorded as a refused call. (Before the one
// pipeline, a 5-item batch left no record of its items at all.)
func TestSyncBatchAuditsEveryItem(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{sync: batch.SyncOptions{Concurrency: 2}})
	body := `{"model":"deepseek-chat","requests":[
		{"prompt":"a","max_tokens":4},{"prompt":"b","max_tokens":4},{"prompt":"c","max_tokens":4},
		{"prompt":"d","max_tokens":4},{"prompt":"e","model":"deepseek-reasoner","max_tokens":4},
		{"max_tokens":4}]}`
	if code, raw := postBatch(t, s.base, keyChatOnly, body); code != 200 {
		t.Fatalf("status %d: %s", code, raw)
	}
	evs := s.audit.byRoute("POST /v1/batch#item")
	if len(evs) != 6 {
		t.Fatalf("%d item records, want 6: %+v", len(evs), evs)
	}
	ok, forbidden, invalid := 0, 0, 0
	for _, e := range evs {
		if e.Principal != "chatonly" || e.Role != "admin" || e.RequestID == "" {
			t.Errorf("record without its actor: %+v", e)
		}
		switch e.Status {
		case 200:
			ok++
			if e.Model != "deepseek-chat" || e.CompletionTokens == 0 || e.Upstream == "" {
				t.Errorf("answered item's record lacks model, upstream or tokens: %+v", e)
			}
		case 400:
			invalid++
		case 403:
			forbidden++
			if e.Model != "deepseek-reasoner" || e.ErrorType != "permission_error" {
				t.Errorf("refused item's record: %+v", e)
			}
		}
	}
	if ok != 4 || forbidden != 1 || invalid != 1 {
		t.Errorf("%d answered, %d forbidden and %d invalid records, want 4, 1 and 1", ok, forbidden, invalid)
	}
}

// Each line of a Batch API job is one audited call with its principal.
// (Before, a 300-line job left no audit record.)
func TestBatchAPIAuditsEveryLine(t *testing.T) {
	t.Parallel()
	s := newStack(t, stackOptions{workers: 4})
	c := s.client(keyAdmin)
	ctx := context.Background()
	const lines = 60
	f, err := c.Files.New(ctx, openai.FileNewParams{File: openai.File(strings.NewReader(inputFile(lines)), "in.jsonl", "application/jsonl"),
		Purpose: openai.FilePurposeBatch})
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Batches.New(ctx, openai.BatchNewParams{InputFileID: f.ID, Endpoint: openai.BatchNewParamsEndpointV1ChatCompletions,
		CompletionWindow: openai.BatchNewParamsCompletionWindow24h})
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 20*time.Second, "the batch to complete", func() bool {
		b, err = c.Batches.Get(ctx, b.ID)
		return err == nil && b.Status == openai.BatchStatusCompleted
	})
	evs := s.audit.byRoute("BATCH /v1/chat/completions")
	if len(evs) != lines {
		t.Fatalf("%d line records, want %d", len(evs), lines)
	}
	ids := map[string]bool{}
	for _, e := range evs {
		ids[e.RequestID] = true
		if e.Principal != "admin" || e.Role != "admin" || e.Model == "" {
			t.Errorf("line record without actor or model: %+v", e)
		}
		if e.Status == 200 && e.CompletionTokens == 0 {
			t.Errorf("answered line without tokens: %+v", e)
		}
	}
	if len(ids) != lines {
		t.Errorf("%d distinct request ids for %d lines", len(ids), lines)
	}
}
