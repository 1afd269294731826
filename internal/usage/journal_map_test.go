package usage

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/store/storetest"
)

// bothWays runs f with the journal mapped (where the system maps it) and
// with write calls.
func bothWays(t *testing.T, f func(t *testing.T)) {
	t.Run("mapped", f)
	t.Run("write", func(t *testing.T) {
		mapJournals = false
		defer func() { mapJournals = true }()
		f(t)
	})
}

func TestJournalBothWays(t *testing.T) {
	for name, f := range map[string]func(*testing.T){
		"ReplaysExactlyOnce":              TestJournalReplaysExactlyOnce,
		"SkipsStoredRecords":              TestJournalSkipsStoredRecords,
		"CutCopy":                         TestJournalCutCopy,
		"StaysBoundedWhileTheStoreIsDown": TestJournalStaysBoundedWhileTheStoreIsDown,
		"RecordInTheFileAtOnce":           testRecordInTheFileAtOnce,
		"Grows":                           testJournalGrows,
	} {
		t.Run(name, func(t *testing.T) { bothWays(t, f) })
	}
}

// A record is in the file (the kernel's) when Record returns: another
// reader of the file sees it before any flush or close. On Linux the
// journal is mapped (no write call a record) unless the test asks for
// write calls.
func testRecordInTheFileAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	r := reopen(t, storetest.OpenSQLite(t), Options{Journal: path}, 0)
	defer crash(r)
	if mapped := r.journal.m != nil; mapped != (mapJournals && runtime.GOOS == "linux") {
		t.Fatalf("journal mapped: %t", mapped)
	}
	record(r, 2)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte(`"deepseek-chat"`)); n != 2 {
		t.Fatalf("the file holds %d records, want 2:\n%q", n, data[:min(len(data), 400)])
	}
}

// A mapped journal past its first mapping is mapped again, larger: every
// record is replayed after a crash, and a clean close leaves the records
// only.
func testJournalGrows(t *testing.T) {
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	path := filepath.Join(t.TempDir(), "journal")
	r := reopen(t, st, Options{Journal: path, MaxJournalBytes: 1 << 40}, 0)
	const n = 30_000 // some 1.6 MB of records: past one mapChunk
	record(r, n)
	if r.journal.size <= mapChunk {
		t.Fatalf("journal of %d bytes, want more than %d", r.journal.size, mapChunk)
	}
	crash(r)
	r = reopen(t, st, Options{Journal: path, MaxJournalBytes: 1 << 40}, n)
	record(r, 1)
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if req, _, _ := totals(t, st); req != n+1 {
		t.Fatalf("requests %d, want %d", req, n+1)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.IndexByte(data, 0) >= 0 || strings.Count(string(data), "\n") != 1 {
		t.Fatalf("journal after a clean close: %d bytes, %d lines, want its header only", len(data), strings.Count(string(data), "\n"))
	}
}

// A copy into the mapping cut by the process's death leaves a line
// without its newline, or with zeros where its start was not yet
// written; a power loss can leave pages of zeros before records that
// survived. load drops a line without its end, keeps what follows a
// line's last zero when it is a record and drops it when it is not,
// replays the rest, and the journal goes on from there.
func TestJournalCutCopy(t *testing.T) {
	const rest = "\t\"p\"\t\"deepseek-chat\"\t0\t3\t0\t7\t1\t0\t0\t\"\"\n"
	for _, c := range []struct {
		name, cut string
		replayed  int
	}{
		{"no newline", "4\t\"key\"\t\"p\"", 3}, // also a write call cut by a power loss
		{"zeros at start", "\x00\x00\x00\x00\"" + rest, 3},
		{"zeros inside", "4\t\"key\"\t\x00\x00\x00\x00" + rest, 3},
		{"a record after zeros", string(make([]byte, 5000)) + "4\t\"key\"" + rest, 4},
		{"a damaged line, then a record", "\x00\x00\"" + rest + "5\t\"key\"" + rest, 4},
		{"the tail of a longer seq", "\x00\x002\t\"key\"" + rest, 3}, // (12 cut to 2: not above 3)
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.OpenSQLite(t)
			path := filepath.Join(t.TempDir(), "journal")
			r := reopen(t, st, Options{Journal: path}, 0)
			record(r, 3)
			size := r.journal.size
			crash(r)
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(append([]byte(c.cut), make([]byte, 4096)...), size); err != nil {
				t.Fatal(err)
			}
			f.Close()
			r = reopen(t, st, Options{Journal: path}, c.replayed)
			record(r, 2)
			crash(r)
			r = reopen(t, st, Options{Journal: path}, c.replayed+2)
			if err := r.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if req, _, _ := totals(t, st); req != int64(c.replayed+2) {
				t.Fatalf("requests %d, want %d", req, c.replayed+2)
			}
		})
	}
}

// A journal of zeros only (its creation cut by a power loss) is a new,
// empty journal, not a file the gateway refuses to start with.
func TestJournalOfZerosIsNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal")
	if err := os.WriteFile(path, make([]byte, mapChunk), 0o640); err != nil {
		t.Fatal(err)
	}
	st := storetest.OpenSQLite(t)
	r := reopen(t, st, Options{Journal: path}, 0)
	record(r, 1)
	crash(r)
	r = reopen(t, st, Options{Journal: path}, 1)
	crash(r)
}
