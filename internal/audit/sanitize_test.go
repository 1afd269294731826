package audit_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/testkit"
)

// A record whose client-supplied strings are not valid UTF-8, carry NUL or
// are huge still verifies: what is hashed is what the JSON line stores, and
// every string field is bounded.
func TestWriterRecordsUnsafeStringsVerifiably(t *testing.T) {
	dir := t.TempDir()
	file, err := audit.NewFileSink(audit.FileOptions{Path: filepath.Join(dir, "log", "audit.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	mem := newMemSink()
	opts := fastOptions(filepath.Join(dir, "spool"), audit.NamedSink{Name: "file", Sink: file}, audit.NamedSink{Name: "mem", Sink: mem})
	opts.IncludeBodies = true
	w, err := audit.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)
	bad := []string{"zz\xfe\xffzz", "deepseek-chat\x00", strings.Repeat("m", 7<<20), "a\xe2\x82"}
	for i, m := range bad {
		ev := newEvent(i)
		ev.Model, ev.RequestID, ev.Principal, ev.Upstream = m, m, m, m
		ev.Input = "in\xff"
		w.Record(ev)
	}
	w.Record(newEvent(len(bad)))
	n := len(bad) + 1
	testkit.Eventually(t, 15*time.Second, "records in the memory sink", func() bool { evs, _ := mem.snapshot(); return len(evs) == n })
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	evs, _ := mem.snapshot()
	for _, ev := range evs {
		if len(ev.Model) > audit.MaxFieldLen || len(ev.RequestID) > audit.MaxFieldLen || !utf8.ValidString(ev.Model) || !utf8.ValidString(ev.Input) {
			t.Errorf("seq %d: model %d bytes, request id %d bytes", ev.Seq, len(ev.Model), len(ev.RequestID))
		}
	}
	files, _ := file.Files()
	rep, err := audit.VerifyFiles(files, audit.VerifyOptions{ExpectHead: evs[n-1].Hash})
	if err != nil || !rep.OK || rep.Records != n {
		t.Fatalf("verify: %+v %v err %v", rep, rep.Problem, err)
	}
}
