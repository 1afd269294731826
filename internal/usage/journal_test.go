package usage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
)

// crash drops a recorder as a killed process would: its journal file is
// unmapped and closed (releasing the lock) and nothing pending is flushed.
func crash(r *Recorder) {
	r.journal.unmap()
	r.journal.f.Close()
}

func totals(t *testing.T, st store.UsageStore) (req, prompt, completion int64) {
	t.Helper()
	got, err := st.Usage(context.Background(), store.UsageFilter{PrincipalID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range got {
		req, prompt, completion = req+u.Requests, prompt+u.PromptTokens, completion+u.CompletionTokens
	}
	return
}

// reopen opens the journal again, as the next start does, and checks that
// it replayed want records.
func reopen(t *testing.T, st JournalWriter, opts Options, want int) *Recorder {
	t.Helper()
	r, err := Open(context.Background(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Stats().Replayed; got != want {
		t.Fatalf("replayed %d records, want %d", got, want)
	}
	return r
}

func record(r *Recorder, n int) {
	for range n {
		r.Record(Record{Kind: store.KindKey, PrincipalID: "p", Model: "deepseek-chat", PromptTokens: 3, CompletionTokens: 7})
	}
}

// Usage recorded before a crash and not yet stored is replayed at the next
// Open; what was stored is not added again.
func TestJournalReplaysExactlyOnce(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	path := filepath.Join(t.TempDir(), "usage", "journal")
	r, err := Open(ctx, st, Options{Journal: path})
	if err != nil {
		t.Fatal(err)
	}
	record(r, 100)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	record(r, 23) // journaled, never flushed
	crash(r)

	r = reopen(t, st, Options{Journal: path}, 23)
	record(r, 7)
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if req, prompt, completion := totals(t, st); req != 130 || prompt != 390 || completion != 910 {
		t.Fatalf("totals %d/%d/%d, want 130/390/910", req, prompt, completion)
	}
	// Everything is stored: a third start replays nothing and the journal
	// is back to its header.
	r = reopen(t, st, Options{Journal: path}, 0)
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if req, _, _ := totals(t, st); req != 130 {
		t.Fatalf("requests %d after a clean restart, want 130", req)
	}
	if fi, _ := os.Stat(path); fi.Size() > 100 {
		t.Fatalf("journal of %d bytes after everything was stored", fi.Size())
	}
}

// A crash after the store committed a flush but before the journal was
// cut back replays nothing twice.
func TestJournalSkipsStoredRecords(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	path := filepath.Join(t.TempDir(), "journal")
	r, err := Open(ctx, st, Options{Journal: path, MaxJournalBytes: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	record(r, 50)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	crash(r) // the journal still holds the 50 stored records
	r = reopen(t, st, Options{Journal: path}, 0)
	record(r, 1)
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if req, _, _ := totals(t, st); req != 51 {
		t.Fatalf("requests %d, want 51", req)
	}
}

// Only one process applies a journal at a time.
func TestJournalLocked(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	path := filepath.Join(t.TempDir(), "journal")
	r, err := Open(ctx, st, Options{Journal: path})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(ctx)
	if _, err := Open(ctx, st, Options{Journal: path}); !errors.Is(err, ErrJournalLocked) {
		t.Fatalf("second Open = %v, want ErrJournalLocked", err)
	}
}

// BenchmarkRecord measures Record on the request path, with and without
// the journal (one write call per record).
func BenchmarkRecord(b *testing.B) {
	ctx := context.Background()
	st := storetest.OpenSQLite(b)
	for _, journaled := range []bool{false, true} {
		b.Run(map[bool]string{false: "memory", true: "journal"}[journaled], func(b *testing.B) {
			r := New(st, Options{})
			if journaled {
				var err error
				if r, err = Open(ctx, st, Options{Journal: filepath.Join(b.TempDir(), "journal"), MaxJournalBytes: 1 << 40}); err != nil {
					b.Fatal(err)
				}
				defer crash(r)
			}
			rec := Record{Kind: store.KindKey, PrincipalID: "p", Model: "deepseek-chat", PromptTokens: 3, CompletionTokens: 7}
			b.ReportAllocs()
			for b.Loop() {
				r.Record(rec)
			}
		})
	}
}
