package audit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/audit"
)

func TestFileSinkRotatesAndVerifies(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	s, err := audit.NewFileSink(audit.FileOptions{Path: path, MaxBytes: 2000, MaxFiles: -1})
	if err != nil {
		t.Fatal(err)
	}
	evs := chain(40, 0, audit.ZeroHash)
	for i := 0; i < len(evs); i += 4 {
		if err := s.Write(context.Background(), evs[i:i+4]); err != nil {
			t.Fatal(err)
		}
	}
	files, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("expected rotation into several files, got %v", files)
	}
	rep, err := audit.VerifyFiles(files, audit.VerifyOptions{})
	if err != nil || !rep.OK || rep.Records != 40 {
		t.Fatalf("verify rotated files: %+v %v err %v", rep, rep.Problem, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFileSinkPrunesOldFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := audit.NewFileSink(audit.FileOptions{Path: filepath.Join(dir, "audit.jsonl"), MaxBytes: 1000, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := chain(60, 0, audit.ZeroHash)
	for i := range evs {
		if err := s.Write(context.Background(), evs[i:i+1]); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := s.Files()
	if len(files) != 3 {
		t.Fatalf("want 2 rotated files + live file, got %v", files)
	}
	rep, _ := audit.VerifyFiles(files, audit.VerifyOptions{Partial: true})
	if !rep.OK || rep.LastSeq != 60 {
		t.Fatalf("partial verify after pruning: %+v %v", rep, rep.Problem)
	}
}

// TestFileSinkRecoversAndSkipsDuplicates: after a reopen the sink knows its
// tail, repairs a torn last line, and ignores records it already holds.
func TestFileSinkRecoversAndSkipsDuplicates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	evs := chain(10, 0, audit.ZeroHash)
	s, err := audit.NewFileSink(audit.FileOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(context.Background(), evs[:6]); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// A crash mid-write leaves half a line.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"id-0007","seq":7,"req`)
	f.Close()

	s, err = audit.NewFileSink(audit.FileOptions{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if seq, hash, ok := s.Tail(); !ok || seq != 6 || hash != evs[5].Hash {
		t.Fatalf("Tail = %d %s %v, want 6", seq, hash, ok)
	}
	// The Writer re-sends 4..10 after a crash between write and cursor save.
	if err := s.Write(context.Background(), evs[3:]); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFiles([]string{path}, audit.VerifyOptions{})
	if err != nil || !rep.OK || rep.Records != 10 {
		t.Fatalf("after recovery: %+v %v err %v", rep, rep.Problem, err)
	}
}

func TestWriterSink(t *testing.T) {
	var buf bytes.Buffer
	s := audit.NewWriterSink(&buf)
	evs := chain(3, 0, audit.ZeroHash)
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	rep, _ := audit.Verify(&buf, audit.VerifyOptions{})
	if !rep.OK || rep.Records != 3 {
		t.Fatalf("stdout lines: %+v", rep)
	}
}

func TestElasticSinkBulkFormat(t *testing.T) {
	es := newFakeES(t)
	s, err := audit.NewElasticSink(audit.ElasticOptions{URL: es.srv.URL + "/", Username: "audit", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	evs := chain(3, 0, audit.ZeroHash) // 2025-03-01 23:59:01.. UTC
	evs[2].RequestAt = evs[2].RequestAt.Add(60e9)
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.lastCType != "application/x-ndjson" {
		t.Errorf("content type %q", es.lastCType)
	}
	if want := "Basic " + base64.StdEncoding.EncodeToString([]byte("audit:pw")); es.lastAuth != want {
		t.Errorf("authorization %q, want basic auth", es.lastAuth)
	}
	if got := es.indexes["id-0001"]; got != "deepseek-api-2025.03.01" {
		t.Errorf("index of first event %q", got)
	}
	if got := es.indexes["id-0003"]; got != "deepseek-api-2025.03.02" {
		t.Errorf("index follows RequestAt in UTC: got %q", got)
	}
}

func TestElasticSinkAPIKeyAndConflict(t *testing.T) {
	es := newFakeES(t)
	s, err := audit.NewElasticSink(audit.ElasticOptions{URL: es.srv.URL, APIKey: "aWQ6a2V5", OpType: "create"})
	if err != nil {
		t.Fatal(err)
	}
	evs := chain(2, 0, audit.ZeroHash)
	// Another writer instance (after a crash) already stored the first event.
	es.docs["id-0001"] = []byte("{}")
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatalf("409 must count as delivered: %v", err)
	}
	if es.lastAuth != "ApiKey aWQ6a2V5" {
		t.Errorf("authorization %q", es.lastAuth)
	}
	if _, err := audit.NewElasticSink(audit.ElasticOptions{URL: es.srv.URL, OpType: "update"}); err == nil {
		t.Error("op type update accepted")
	}
}

// TestElasticSinkRetriesOnlyFailedItems: items that failed (429) are sent
// again; acknowledged items never are.
func TestElasticSinkRetriesOnlyFailedItems(t *testing.T) {
	es := newFakeES(t)
	s, err := audit.NewElasticSink(audit.ElasticOptions{URL: es.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	evs := chain(5, 0, audit.ZeroHash)
	es.itemFail["id-0002"] = 429
	es.itemFail["id-0004"] = 503
	err = s.Write(context.Background(), evs)
	var berr *audit.BulkError
	if !errors.As(err, &berr) || berr.Failed != 2 || berr.FirstCode != 429 || !strings.Contains(err.Error(), "es_rejected_execution_exception") {
		t.Fatalf("first write: %v", err)
	}
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if r := es.resentIDs(); len(r) != 0 {
		t.Fatalf("acknowledged ids sent again: %v", r)
	}
	if es.count() != 5 {
		t.Fatalf("stored %d docs", es.count())
	}

	es.setMode("503")
	if err := s.Write(context.Background(), chain(1, 5, evs[4].Hash)); !errors.As(err, &berr) || berr.Status != 503 {
		t.Fatalf("503: %v", err)
	}
}

// TestFileSinkDeferSyncThroughWriter checks that with DeferSync the file
// holds every record once the writer closes (its final cursor save syncs).
func TestFileSinkDeferSyncThroughWriter(t *testing.T) {
	dir := t.TempDir()
	fs, err := audit.NewFileSink(audit.FileOptions{Path: filepath.Join(dir, "audit.jsonl"), DeferSync: true})
	if err != nil {
		t.Fatal(err)
	}
	w, err := audit.New(fastOptions(filepath.Join(dir, "spool"), audit.NamedSink{Name: "file", Sink: fs}))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 25; i++ { // Close spools and delivers them, Run or not
		w.Record(newEvent(i))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := audit.VerifyFiles([]string{filepath.Join(dir, "audit.jsonl")}, audit.VerifyOptions{})
	if err != nil || !rep.OK || rep.Records != 25 {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}
