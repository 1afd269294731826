package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/audit"
)

// chain builds n sealed events starting after (seq, hash).
func chain(n int, seq uint64, hash string) []audit.Event {
	base := time.Date(2025, 3, 1, 23, 59, 0, 0, time.UTC)
	var out []audit.Event
	for i := 0; i < n; i++ {
		seq++
		ev := audit.Event{
			ID: fmt.Sprintf("id-%04d", seq), Seq: seq, RequestID: fmt.Sprintf("req-%d", seq),
			Principal: "key_1", Role: "user", ClientAddr: "127.0.0.1", Route: "/v1/chat/completions",
			Model: "deepseek-chat", Upstream: "cloud", Status: 200, CacheResult: "miss",
			PromptTokens: 10, CompletionTokens: int(seq), RequestAt: base.Add(time.Duration(seq) * time.Second),
			ResponseAt:  base.Add(time.Duration(seq)*time.Second + 300*time.Millisecond),
			InputSHA256: audit.HashText("in"), OutputSHA256: audit.HashText("out"), PrevHash: hash,
		}
		ev.Hash = ev.ComputeHash()
		hash = ev.Hash
		out = append(out, ev)
	}
	return out
}

func jsonLines(t *testing.T, evs []audit.Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// newEvent is what the request path would record.
func newEvent(i int) audit.Event {
	return audit.Event{
		RequestID: fmt.Sprintf("req-%d", i), Principal: "key_1", Route: "/v1/chat/completions",
		Model: "deepseek-chat", Status: 200, Input: fmt.Sprintf("prompt %d", i), Output: "answer",
		RequestAt: time.Date(2025, 3, 1, 12, 0, i%60, 0, time.UTC), ResponseAt: time.Date(2025, 3, 1, 12, 0, i%60, 5, time.UTC),
	}
}

// memSink stores what it gets, can be taken down, and flags any record it
// receives twice after having acknowledged it.
type memSink struct {
	mu     sync.Mutex
	down   bool
	block  chan struct{} // when set, Write blocks until it is closed or its ctx ends
	events []audit.Event
	seen   map[uint64]bool
	dups   []uint64
	closed bool
}

func newMemSink() *memSink { return &memSink{seen: map[uint64]bool{}} }

func (s *memSink) setDown(v bool) { s.mu.Lock(); s.down = v; s.mu.Unlock() }

func (s *memSink) Write(ctx context.Context, batch []audit.Event) error {
	s.mu.Lock()
	block, down := s.block, s.down
	s.mu.Unlock()
	if block != nil {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-block:
			return errors.New("sink was hung")
		}
	}
	if down {
		return errors.New("sink down")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range batch {
		if s.seen[ev.Seq] {
			s.dups = append(s.dups, ev.Seq)
			continue
		}
		s.seen[ev.Seq] = true
		s.events = append(s.events, ev)
	}
	return nil
}

func (s *memSink) Close() error { s.mu.Lock(); s.closed = true; s.mu.Unlock(); return nil }

func (s *memSink) snapshot() ([]audit.Event, []uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events), slices.Clone(s.dups)
}

// fakeES speaks enough of the _bulk API: it stores documents by _id,
// answers per item, and records every id sent again after it was
// acknowledged (which the sink must never do).
type fakeES struct {
	srv *httptest.Server

	mu        sync.Mutex
	mode      string            // "up", "503", "hang", "close"
	itemFail  map[string]int    // _id -> status to answer once
	docs      map[string][]byte // acknowledged documents
	order     []string          // ids in acknowledgement order
	resent    []string          // ids sent after an ack
	indexes   map[string]string // _id -> _index
	requests  int
	lastAuth  string
	lastCType string
}

func newFakeES(t *testing.T) *fakeES {
	t.Helper()
	f := &fakeES{mode: "up", itemFail: map[string]int{}, docs: map[string][]byte{}, indexes: map[string]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeES) setMode(m string) { f.mu.Lock(); f.mode = m; f.mu.Unlock() }

func (f *fakeES) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.docs) }

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	mode := f.mode
	f.lastAuth, f.lastCType = r.Header.Get("Authorization"), r.Header.Get("Content-Type")
	f.mu.Unlock()
	switch {
	case r.URL.Path != "/_bulk" || r.Method != http.MethodPost:
		http.Error(w, "not found", http.StatusNotFound)
		return
	case mode == "503":
		http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
		return
	case mode == "hang": // a partitioned service: no answer until the client gives up
		io.Copy(io.Discard, r.Body) // so the server notices the client leaving
		<-r.Context().Done()
		return
	case mode == "close":
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	type item struct {
		Index  string          `json:"_index"`
		ID     string          `json:"_id"`
		Status int             `json:"status"`
		Error  json.RawMessage `json:"error,omitempty"`
	}
	var items []map[string]item
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 || !sc.Scan() {
			http.Error(w, "bad bulk body", http.StatusBadRequest)
			return
		}
		doc := slices.Clone(sc.Bytes())
		for op, meta := range action {
			items = append(items, map[string]item{op: f.store(op, meta.Index, meta.ID, doc)})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": false, "items": items})
}

func (f *fakeES) store(op, index, id string, doc []byte) (it struct {
	Index  string          `json:"_index"`
	ID     string          `json:"_id"`
	Status int             `json:"status"`
	Error  json.RawMessage `json:"error,omitempty"`
}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	it.Index, it.ID = index, id
	if st, ok := f.itemFail[id]; ok {
		delete(f.itemFail, id)
		it.Status, it.Error = st, json.RawMessage(`{"type":"es_rejected_execution_exception","reason":"queue full"}`)
		return it
	}
	if _, ok := f.docs[id]; ok {
		f.resent = append(f.resent, id)
		if op == "create" {
			it.Status, it.Error = http.StatusConflict, json.RawMessage(`{"type":"version_conflict_engine_exception"}`)
			return it
		}
		it.Status = http.StatusOK
		return it
	}
	f.docs[id], f.indexes[id] = doc, index
	f.order = append(f.order, id)
	it.Status = http.StatusCreated
	return it
}

// events returns the stored documents in acknowledgement order.
func (f *fakeES) events(t *testing.T) []audit.Event {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []audit.Event
	for _, id := range f.order {
		var ev audit.Event
		if err := json.Unmarshal(f.docs[id], &ev); err != nil {
			t.Fatalf("stored doc %s: %v", id, err)
		}
		out = append(out, ev)
	}
	return out
}

func (f *fakeES) resentIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.resent)
}

// checkChain asserts evs are seqs 1..n, each once, forming a valid chain.
func checkChain(t *testing.T, evs []audit.Event, n int) {
	t.Helper()
	sorted := slices.Clone(evs)
	slices.SortFunc(sorted, func(a, b audit.Event) int { return int(a.Seq) - int(b.Seq) })
	if len(sorted) != n {
		t.Fatalf("got %d records, want %d", len(sorted), n)
	}
	rep, err := audit.Verify(bytes.NewReader(jsonLines(t, sorted)), audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Records != n {
		t.Fatalf("chain not intact: %+v problem %v", rep, rep.Problem)
	}
}
