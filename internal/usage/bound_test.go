package usage

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

// downStore refuses writes while down is set.
type downStore struct {
	store.Store
	down atomic.Bool
}

func (d *downStore) AddJournalUsage(ctx context.Context, ds []store.UsageDelta, journal string, seq uint64) error {
	if d.down.Load() {
		return errors.New("store down")
	}
	return d.Store.AddJournalUsage(ctx, ds, journal, seq)
}

// While the store refuses writes the journal stays bounded (it is
// rewritten as the pending totals), and what it holds is exact: after a
// crash the replay adds every request, token and cost once.
func TestJournalStaysBoundedWhileTheStoreIsDown(t *testing.T) {
	ctx := context.Background()
	st := &downStore{Store: storetest.OpenSQLite(t)}
	path := filepath.Join(t.TempDir(), "journal")
	const maxBytes = 256
	r, err := Open(ctx, st, Options{Journal: path, MaxJournalBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	st.down.Store(true)
	for i := range 20_000 {
		r.Record(Record{Kind: store.KindKey, PrincipalID: "p", Model: "deepseek-chat", PromptTokens: 3, CompletionTokens: 7,
			Cost: 5, Currency: "USD"})
		if i%500 == 499 {
			if err := r.Flush(ctx); err == nil {
				t.Fatal("flush succeeded against a down store")
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	held := len(data) // the records; a mapped journal's free space follows them
	if i := bytes.IndexByte(data, 0); i >= 0 {
		held = i
	}
	if limit := journalGrowth*maxBytes + 500*100; held > limit || len(data) > limit+2*mapChunk {
		t.Fatalf("journal of %d bytes (%d of records) after 20,000 records, want at most %d", len(data), held, limit)
	}
	if r.Stats().Compactions == 0 {
		t.Fatal("no compaction")
	}
	crash(r)
	st.down.Store(false)
	r, err = Open(ctx, st, Options{Journal: path, MaxJournalBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if req, prompt, completion := totals(t, st); req != 20_000 || prompt != 60_000 || completion != 140_000 {
		t.Fatalf("totals %d/%d/%d, want 20000/60000/140000", req, prompt, completion)
	}
}
