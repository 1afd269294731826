package usage

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

// One row PostgreSQL refuses (0x00 or 0xff in a text column, replayed from
// a journal written before names were checked) must not block every other
// tenant's usage: the failed batch is retried row by row, the bad row is
// dropped and counted, and the journal is cut back afterwards.
func TestFlushDropsARowTheStoreRejects(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenPostgres(t)
	path := filepath.Join(t.TempDir(), "journal")
	r, err := Open(ctx, st, Options{Journal: path, MaxJournalBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Now()
	for _, m := range []string{"zz\xfe\xffzz", "deepseek-chat\x00"} {
		// As Record did before names were checked: journaled raw.
		d := store.UsageDelta{Kind: store.KindKey, PrincipalID: "poison", Model: m, Day: day, Requests: 1, PromptTokens: 1}
		r.mu.Lock()
		r.seq++
		if err := r.journal.append(r.seq, &d); err != nil {
			t.Fatal(err)
		}
		r.addLocked(d)
		r.mu.Unlock()
	}
	record(r, 10)
	if err := r.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if req, prompt, completion := totals(t, st); req != 10 || prompt != 30 || completion != 70 {
		t.Fatalf("totals %d/%d/%d, want 10/30/70", req, prompt, completion)
	}
	if s := r.Stats(); s.Dropped != 2 || s.Pending != 0 {
		t.Fatalf("stats %+v, want 2 dropped and nothing pending", s)
	}
	if r.journal.size != r.journal.header {
		t.Fatalf("journal %d bytes, want cut back to its header (%d)", r.journal.size, r.journal.header)
	}
	// A bad name given to Record is made storable, not dropped.
	r.Record(Record{Kind: store.KindKey, PrincipalID: "p", Model: "a\x00\xffb", PromptTokens: 1})
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if req, _, _ := totals(t, st); req != 11 {
		t.Fatalf("requests %d, want 11", req)
	}
	if mark, _ := st.JournalMark(ctx, r2id(t, path)); mark != 13 {
		t.Fatalf("journal mark %d, want 13", mark)
	}
}

// r2id reads the journal's id back.
func r2id(t *testing.T, path string) string {
	j, _, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	return j.id
}
