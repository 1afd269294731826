package usage

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/dsgate/dsgate/internal/store/storetest"
)

// A mapped journal cut by another process (the lock is advisory: an
// operator's `: > journal`, a log rotator's copytruncate) faults the next
// copy (SIGBUS). The process lives on: the journal goes on with write
// calls, and what it takes after the cut is replayed (what the cut took
// is lost).
func TestJournalCutUnderTheMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	st := storetest.OpenSQLite(t)
	r := reopen(t, st, Options{Journal: path}, 0)
	if r.journal.m == nil {
		t.Fatal("journal not mapped")
	}
	record(r, 200) // past the file's first page: a cut at the header leaves no page under these
	if err := os.Truncate(path, r.journal.header); err != nil {
		t.Fatal(err)
	}
	record(r, 2)
	if r.journal.m != nil {
		t.Fatal("journal still mapped after a fault")
	}
	if got := r.Stats().JournalErrors; got != 0 {
		t.Fatalf("%d journal errors, want 0 (the records written with write calls)", got)
	}
	crash(r)
	crash(reopen(t, st, Options{Journal: path}, 2))
}

// A write call cut short (a full disk; here RLIMIT_FSIZE) leaves no part
// of its line behind: the records after it are read back, and the
// journal still opens.
func TestJournalShortWrite(t *testing.T) {
	mapJournals = false
	defer func() { mapJournals = true }()
	path := filepath.Join(t.TempDir(), "journal")
	st := storetest.OpenSQLite(t)
	r := reopen(t, st, Options{Journal: path}, 0)
	record(r, 1)

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit fails (EFBIG) instead of killing the process
	defer signal.Reset(syscall.SIGXFSZ)
	short := lim
	line := uint64(r.journal.size - r.journal.header)
	short.Cur = uint64(r.journal.size) + line + line/2 // one record and part of the next
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &short); err != nil {
		t.Fatal(err)
	}
	record(r, 3)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	if got := r.Stats().JournalErrors; got != 2 {
		t.Fatalf("%d journal errors, want 2", got)
	}
	record(r, 2)
	crash(r)
	crash(reopen(t, st, Options{Journal: path}, 4)) // 1 + 1 before the limit, 2 after
}

// A journal that went on with write calls after a fault is mapped again
// once it is cut back (everything stored).
func TestJournalMappedAgainAfterAFault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	st := storetest.OpenSQLite(t)
	r := reopen(t, st, Options{Journal: path, MaxJournalBytes: 1}, 0) // cut back after every flush
	record(r, 200)
	if err := os.Truncate(path, r.journal.header); err != nil {
		t.Fatal(err)
	}
	record(r, 2)
	if r.journal.m != nil {
		t.Fatal("journal still mapped after a fault")
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.journal.m == nil {
		t.Fatal("journal not mapped again after the cut back")
	}
	record(r, 3)
	crash(r)
	crash(reopen(t, st, Options{Journal: path}, 3))
}

// A journal cut to nothing, then a fault: the header is put back, and the
// next start reads the records that came after the cut.
func TestJournalCutToZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	st := storetest.OpenSQLite(t)
	r := reopen(t, st, Options{Journal: path}, 0)
	record(r, 200)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	record(r, 2)
	crash(r)
	crash(reopen(t, st, Options{Journal: path}, 2))
}

// Cuts that fault nothing are found by the next flush, which puts back the
// header and the length and stores what the cut took: a cut inside the
// first page (the copies after it go past the file's end, unseen), and a
// cut to nothing just before the mapping grows (which fills the file with
// zeros again, the header among them).
func TestJournalCutFoundByTheFlush(t *testing.T) {
	for _, c := range []struct {
		name string
		cut  func(r *Recorder) int64 // records before the cut; returns the length to cut to
	}{
		{"inside the first page", func(r *Recorder) int64 { record(r, 3); return r.journal.header }},
		{"before the mapping grows", func(r *Recorder) int64 {
			for line := int64(0); r.journal.size+2*line < int64(len(r.journal.m)); {
				at := r.journal.size
				record(r, 1)
				line = r.journal.size - at
			}
			return 0
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "journal")
			st := storetest.OpenSQLite(t)
			r := reopen(t, st, Options{Journal: path, MaxJournalBytes: 1 << 30}, 0)
			if err := os.Truncate(path, c.cut(r)); err != nil {
				t.Fatal(err)
			}
			record(r, 10)
			before := r.Stats().Records
			if err := r.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			record(r, 2)
			crash(r)
			r = reopen(t, st, Options{Journal: path}, 2)
			if err := r.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if req, _, _ := totals(t, st); req != int64(before)+2 {
				t.Fatalf("requests %d, want %d", req, before+2)
			}
		})
	}
}
