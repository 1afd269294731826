package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/dsgate/dsgate/internal/store"
)

func testBatchFiles(t *testing.T, st store.Store) {
	ctx := context.Background()
	f := store.BatchFile{ID: "file-1", Owner: "key:a", Filename: "in.jsonl", Purpose: "batch", Bytes: 42,
		CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	if err := st.CreateBatchFile(ctx, f); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBatchFile(ctx, f); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate file: %v", err)
	}
	f2 := f
	f2.ID, f2.CreatedAt = "file-2", t0.Add(time.Second)
	if err := st.CreateBatchFile(ctx, f2); err != nil {
		t.Fatal(err)
	}
	got, err := st.BatchFile(ctx, "file-1")
	if err != nil || !cmp.Equal(got, f) {
		t.Fatalf("file: %v\n%s", err, cmp.Diff(f, got))
	}
	list, err := st.ListBatchFiles(ctx, "key:a")
	if err != nil || len(list) != 2 || list[0].ID != "file-2" {
		t.Fatalf("list: %v %+v", err, list)
	}
	if l, _ := st.ListBatchFiles(ctx, "key:b"); len(l) != 0 {
		t.Errorf("other owner sees %v", l)
	}
	if err := st.DeleteBatchFile(ctx, "file-1"); err != nil {
		t.Fatal(err)
	}
	_, err = st.BatchFile(ctx, "file-1")
	mustNotFound(t, err, "deleted file")
	mustNotFound(t, st.DeleteBatchFile(ctx, "file-1"), "deleting twice")
}

func newBatch(id string, created time.Time) store.Batch {
	return store.Batch{ID: id, Owner: "key:a", Principal: []byte(`{"id":"a"}`), Endpoint: "/v1/chat/completions",
		InputFileID: "file-1", CompletionWindow: "24h", Status: store.BatchValidating,
		Metadata: map[string]string{"team": "search"}, CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour)}
}

func testBatches(t *testing.T, st store.Store) {
	ctx := context.Background()
	b := newBatch("batch_1", t0)
	if err := st.CreateBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBatch(ctx, b); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate batch: %v", err)
	}
	got, err := st.Batch(ctx, "batch_1")
	if err != nil || !cmp.Equal(got, b) {
		t.Fatalf("batch: %v\n%s", err, cmp.Diff(b, got))
	}
	_, err = st.Batch(ctx, "nope")
	mustNotFound(t, err, "unknown batch")

	b.Status, b.InProgressAt, b.Total, b.Model = store.BatchInProgress, t0.Add(time.Second), 3, "deepseek-chat"
	b.Completed = 99 // never written by UpdateBatch
	if err := st.UpdateBatch(ctx, b, store.BatchValidating); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateBatch(ctx, b, store.BatchValidating); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	mustNotFound(t, st.UpdateBatch(ctx, newBatch("nope", t0), store.BatchValidating), "updating unknown batch")
	got, _ = st.Batch(ctx, "batch_1")
	if got.Status != store.BatchInProgress || got.Total != 3 || got.Completed != 0 || !got.InProgressAt.Equal(b.InProgressAt) {
		t.Fatalf("after update: %+v", got)
	}

	for i := 2; i <= 5; i++ {
		if err := st.CreateBatch(ctx, newBatch(fmt.Sprintf("batch_%d", i), t0.Add(time.Duration(i)*time.Minute))); err != nil {
			t.Fatal(err)
		}
	}
	page, err := st.ListBatches(ctx, "key:a", "", 2)
	if err != nil || len(page) != 2 || page[0].ID != "batch_5" || page[1].ID != "batch_4" {
		t.Fatalf("first page: %v %v", err, ids(page))
	}
	page, err = st.ListBatches(ctx, "key:a", "batch_4", 10)
	if err != nil || len(page) != 3 || page[0].ID != "batch_3" || page[2].ID != "batch_1" {
		t.Fatalf("second page: %v %v", err, ids(page))
	}
	done := newBatch("batch_done", t0)
	done.Status = store.BatchCompleted
	st.CreateBatch(ctx, done)
	active, err := st.ActiveBatches(ctx)
	if err != nil || len(active) != 5 || active[0].ID != "batch_1" {
		t.Fatalf("active: %v %v", err, ids(active))
	}
}

func ids(bs []store.Batch) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.ID)
	}
	return out
}

func testBatchItems(t *testing.T, st store.Store) {
	ctx := context.Background()
	if err := st.CreateBatch(ctx, newBatch("batch_1", t0)); err != nil {
		t.Fatal(err)
	}
	// Concurrent writers, each line twice: every line counts once.
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for line := int64(0); line < 10; line++ {
				it := store.BatchItem{BatchID: "batch_1", Line: line, CustomID: fmt.Sprint("c", line), Failed: line%5 == 0,
					Output: []byte(`{"custom_id":"c"}`), PromptTokens: 10, CachedTokens: 2, CompletionTokens: 5, ReasoningTokens: 1}
				if _, err := st.AddBatchItem(ctx, it); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	added, err := st.AddBatchItem(ctx, store.BatchItem{BatchID: "batch_1", Line: 3, CustomID: "again", Output: []byte("{}")})
	if err != nil || added {
		t.Fatalf("re-adding a line: %v %v", added, err)
	}
	b, _ := st.Batch(ctx, "batch_1")
	if b.Completed != 8 || b.Failed != 2 || b.PromptTokens != 100 || b.CachedTokens != 20 ||
		b.CompletionTokens != 50 || b.ReasoningTokens != 10 {
		t.Fatalf("counters %+v", b)
	}
	first, err := st.BatchItems(ctx, "batch_1", -1, 4)
	if err != nil || len(first) != 4 || first[0].Line != 0 || !first[0].Failed || first[1].CustomID != "c1" {
		t.Fatalf("items: %v %+v", err, first)
	}
	rest, err := st.BatchItems(ctx, "batch_1", first[3].Line, 100)
	if err != nil || len(rest) != 6 || rest[5].Line != 9 || string(rest[0].Output) != `{"custom_id":"c"}` {
		t.Fatalf("rest: %v %+v", err, rest)
	}
}
