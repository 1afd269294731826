package audit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/testkit"
)

// fastOptions keeps backoffs short so outages end quickly in tests.
func fastOptions(dir string, sinks ...audit.NamedSink) audit.Options {
	return audit.Options{
		SpoolDir: dir, Sinks: sinks,
		RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond,
		WriteTimeout: 2 * time.Second, FlushTimeout: 200 * time.Millisecond,
	}
}

// startWriter runs w until the test ends (or until the returned stop is called).
func startWriter(t *testing.T, w *audit.Writer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	stop = func() { cancel(); wg.Wait() }
	t.Cleanup(stop)
	return stop
}

func sinkStats(w *audit.Writer, name string) audit.SinkStats {
	for _, s := range w.Stats().Sinks {
		if s.Name == name {
			return s
		}
	}
	return audit.SinkStats{}
}

func TestWriterChainsAndDelivers(t *testing.T) {
	dir := t.TempDir()
	file, err := audit.NewFileSink(audit.FileOptions{Path: filepath.Join(dir, "log", "audit.jsonl")})
	if err != nil {
		t.Fatal(err)
	}
	mem := newMemSink()
	opts := fastOptions(filepath.Join(dir, "spool"), audit.NamedSink{Name: "file", Sink: file}, audit.NamedSink{Name: "mem", Sink: mem})
	opts.IncludeBodies = true
	opts.Redact = func(s string) string { return "[redacted]" }
	w, err := audit.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)
	for i := 0; i < 100; i++ {
		w.Record(newEvent(i))
	}
	testkit.Eventually(t, 15*time.Second, "100 records in the memory sink", func() bool { evs, _ := mem.snapshot(); return len(evs) == 100 })
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	evs, dups := mem.snapshot()
	if len(dups) != 0 {
		t.Fatalf("duplicates: %v", dups)
	}
	checkChain(t, evs, 100)
	if evs[0].InputSHA256 != audit.HashText("prompt 0") || evs[0].Input != "[redacted]" || evs[0].ID == "" {
		t.Fatalf("first event not prepared: %+v", evs[0])
	}
	files, _ := file.Files()
	rep, err := audit.VerifyFiles(files, audit.VerifyOptions{ExpectHead: evs[99].Hash})
	if err != nil || !rep.OK || rep.Records != 100 {
		t.Fatalf("file sink: %+v %v err %v", rep, rep.Problem, err)
	}
	if !mem.closed {
		t.Error("Close did not close the sinks")
	}
}

// TestWriterElasticOutage: Elasticsearch answers 503 and then drops
// connections for a while; every record arrives once, in order, afterwards,
// and no acknowledged record is ever sent again.
func TestWriterElasticOutage(t *testing.T) {
	es := newFakeES(t)
	sink, err := audit.NewElasticSink(audit.ElasticOptions{URL: es.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "errs"}, []string{"sink"})
	depth := prometheus.NewGauge(prometheus.GaugeOpts{Name: "depth"})
	reg.MustRegister(errs, depth)
	opts := fastOptions(t.TempDir(), audit.NamedSink{Name: "elasticsearch", Sink: sink})
	opts.BatchSize = 7
	opts.Metrics = audit.Metrics{SinkErrors: errs, QueueDepth: depth}
	w, err := audit.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)

	for i := 0; i < 20; i++ {
		w.Record(newEvent(i))
	}
	testkit.Eventually(t, 15*time.Second, "first 20 delivered", func() bool { return es.count() == 20 })

	es.setMode("503")
	for i := 20; i < 50; i++ {
		w.Record(newEvent(i))
	}
	testkit.Eventually(t, 15*time.Second, "errors while ES answers 503", func() bool { return sinkStats(w, "elasticsearch").Errors >= 2 })
	es.setMode("close")
	before := sinkStats(w, "elasticsearch").Errors
	testkit.Eventually(t, 15*time.Second, "errors while ES drops connections", func() bool { return sinkStats(w, "elasticsearch").Errors >= before+2 })
	// The sequencer group-commits: wait until all 50 are on disk.
	testkit.Eventually(t, 15*time.Second, "all records spooled", func() bool { return w.Stats().Spooled >= 50 })
	if got := w.Stats().Pending; got != 30 {
		t.Fatalf("pending during outage = %d, want 30", got)
	}
	if got := testutil.ToFloat64(depth); got != 30 {
		t.Fatalf("queue depth gauge = %v, want 30", got)
	}

	es.setMode("up")
	for i := 50; i < 60; i++ {
		w.Record(newEvent(i))
	}
	testkit.Eventually(t, 15*time.Second, "all 60 delivered", func() bool { return es.count() == 60 })
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if r := es.resentIDs(); len(r) != 0 {
		t.Fatalf("acknowledged ids sent again: %v", r)
	}
	got := es.events(t)
	for i, ev := range got {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("delivery order: position %d has seq %d", i, ev.Seq)
		}
	}
	checkChain(t, got, 60)
	if testutil.ToFloat64(errs.WithLabelValues("elasticsearch")) < 4 {
		t.Error("sink errors not counted in the collector")
	}
	if testutil.ToFloat64(depth) != 0 {
		t.Errorf("queue depth after delivery = %v", testutil.ToFloat64(depth))
	}
}

// TestWriterRestartDuringOutage: the writer is closed while Elasticsearch is
// down, a new writer opens the same spool, and once Elasticsearch is back
// every record from both arrives exactly once and the chain is continuous.
// The file sink, delivered all along, holds every record once.
func TestWriterRestartDuringOutage(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	logPath := filepath.Join(dir, "audit.jsonl")
	es := newFakeES(t)
	es.setMode("503")

	open := func() (*audit.Writer, *audit.FileSink) {
		t.Helper()
		sink, err := audit.NewElasticSink(audit.ElasticOptions{URL: es.srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		file, err := audit.NewFileSink(audit.FileOptions{Path: logPath, MaxBytes: 8 << 10})
		if err != nil {
			t.Fatal(err)
		}
		opts := fastOptions(spool, audit.NamedSink{Name: "es", Sink: sink}, audit.NamedSink{Name: "file", Sink: file})
		opts.SegmentBytes, opts.MaxSpoolBytes = 4<<10, 1<<20 // several segments
		w, err := audit.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		return w, file
	}

	w1, _ := open()
	stop1 := startWriter(t, w1)
	for i := 0; i < 40; i++ {
		w1.Record(newEvent(i))
	}
	testkit.Eventually(t, 15*time.Second, "40 records in the file sink", func() bool { return sinkStats(w1, "file").Cursor == 40 })
	_, err := audit.New(fastOptions(spool, audit.NamedSink{Name: "es", Sink: newMemSink()}))
	if !errors.Is(err, audit.ErrSpoolLocked) {
		t.Fatalf("second writer on a live spool: %v, want ErrSpoolLocked", err)
	}
	// Issue 21: the error names the lock and the running holder.
	var locked *audit.SpoolLockedError
	if !errors.As(err, &locked) || locked.PID != os.Getpid() || locked.Lock != filepath.Join(spool, "LOCK") ||
		!strings.Contains(err.Error(), "already running") || !strings.Contains(err.Error(), locked.Lock) {
		t.Fatalf("second writer's error does not name the running instance's lock: %v", err)
	}
	stop1()
	if err := w1.Close(); !errors.Is(err, audit.ErrUndelivered) {
		t.Fatalf("Close during outage = %v, want ErrUndelivered", err)
	}

	w2, file := open()
	if got := w2.Stats(); got.LastSeq != 40 || got.Pending != 40 {
		t.Fatalf("reopened writer: last seq %d pending %d, want 40 and 40", got.LastSeq, got.Pending)
	}
	startWriter(t, w2)
	for i := 40; i < 70; i++ {
		w2.Record(newEvent(i))
	}
	testkit.Eventually(t, 15*time.Second, "70 records in the file sink", func() bool { return sinkStats(w2, "file").Cursor == 70 })
	es.setMode("up")
	testkit.Eventually(t, 15*time.Second, "70 records in Elasticsearch", func() bool { return es.count() == 70 })
	if err := w2.Close(); err != nil {
		t.Fatalf("Close after recovery: %v", err)
	}
	if r := es.resentIDs(); len(r) != 0 {
		t.Fatalf("acknowledged ids sent again: %v", r)
	}
	checkChain(t, es.events(t), 70)

	files, _ := file.Files()
	rep, err := audit.VerifyFiles(files, audit.VerifyOptions{})
	if err != nil || !rep.OK || rep.Records != 70 {
		t.Fatalf("file sink after restart: %+v %v err %v", rep, rep.Problem, err)
	}
}

// TestRecordNeverBlocks: with a sink that hangs, Record returns at once;
// what does not fit the queue is dropped and counted.
func TestRecordNeverBlocks(t *testing.T) {
	mem := newMemSink()
	mem.block = make(chan struct{})
	defer close(mem.block) // lets the stuck Write return before cleanup stops Run
	opts := fastOptions(t.TempDir(), audit.NamedSink{Name: "hung", Sink: mem})
	opts.QueueSize = 16
	opts.WriteTimeout = time.Minute
	opts.FlushTimeout = time.Millisecond
	w, err := audit.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)
	const n = 20000
	done := make(chan time.Duration)
	go func() {
		start := time.Now()
		for i := 0; i < n; i++ {
			w.Record(newEvent(i))
		}
		done <- time.Since(start)
	}()
	select {
	case d := <-done:
		t.Logf("%d Record calls with a hung sink took %v", n, d)
	case <-time.After(10 * time.Second):
		t.Fatal("Record blocked")
	}
	st := w.Stats()
	if st.Accepted+st.Dropped[audit.DropQueueFull] != n {
		t.Fatalf("accepted %d + dropped %d != %d", st.Accepted, st.Dropped[audit.DropQueueFull], n)
	}
}

func TestSpoolFullPolicies(t *testing.T) {
	const n = 300
	tests := []struct {
		policy audit.FullPolicy
		reason string
	}{
		{audit.DropNew, audit.DropSpoolFull},
		{audit.DropOldest, audit.DropOldestSeg},
		{"block_new", audit.DropSpoolFull}, // drop_new's deprecated name

	}
	for _, tt := range tests {
		t.Run(string(tt.policy), func(t *testing.T) {
			t.Parallel()
			mem := newMemSink()
			mem.setDown(true)
			dropped := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dropped"}, []string{"reason"})
			opts := fastOptions(t.TempDir(), audit.NamedSink{Name: "mem", Sink: mem})
			opts.QueueSize = n
			opts.SegmentBytes, opts.MaxSpoolBytes = 8<<10, 32<<10
			opts.FullPolicy = tt.policy
			opts.Metrics.Dropped = dropped
			w, err := audit.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			startWriter(t, w)
			for i := 0; i < n; i++ {
				w.Record(newEvent(i))
			}
			testkit.Eventually(t, 15*time.Second, "every record sequenced or dropped", func() bool {
				st := w.Stats()
				return st.Spooled+st.Dropped[audit.DropSpoolFull] == n
			})
			st := w.Stats()
			if st.SpoolBytes > opts.MaxSpoolBytes {
				t.Fatalf("spool holds %d bytes, limit %d", st.SpoolBytes, opts.MaxSpoolBytes)
			}
			lost := st.Dropped[tt.reason]
			if lost == 0 || uint64(testutil.ToFloat64(dropped.WithLabelValues(tt.reason))) != lost {
				t.Fatalf("dropped[%s] = %d, collector %v", tt.reason, lost, testutil.ToFloat64(dropped.WithLabelValues(tt.reason)))
			}

			mem.setDown(false)
			want := int(st.Spooled - st.Dropped[audit.DropOldestSeg])
			testkit.Eventually(t, 15*time.Second, "spooled records delivered", func() bool { evs, _ := mem.snapshot(); return len(evs) == want })
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			evs, dups := mem.snapshot()
			if len(dups) != 0 {
				t.Fatalf("duplicates: %v", dups)
			}
			for i := 1; i < len(evs); i++ {
				if evs[i].Seq != evs[i-1].Seq+1 || evs[i].PrevHash != evs[i-1].Hash {
					t.Fatalf("delivered records not contiguous at %d", i)
				}
			}
			switch tt.policy {
			case audit.DropNew, "block_new": // the oldest records survive, the chain is whole
				if evs[0].Seq != 1 || int(evs[len(evs)-1].Seq) != want {
					t.Fatalf("drop_new kept seqs %d..%d", evs[0].Seq, evs[len(evs)-1].Seq)
				}
			case audit.DropOldest: // the newest survive, the head is the last record
				if evs[0].Seq == 1 || evs[len(evs)-1].Seq != n || uint64(len(evs))+lost != n {
					t.Fatalf("drop_oldest kept seqs %d..%d (%d) with %d lost", evs[0].Seq, evs[len(evs)-1].Seq, len(evs), lost)
				}
			}
		})
	}
}

func TestRecordAfterCloseIsCounted(t *testing.T) {
	w, err := audit.New(fastOptions(t.TempDir(), audit.NamedSink{Name: "mem", Sink: newMemSink()}))
	if err != nil {
		t.Fatal(err)
	}
	w.Record(newEvent(1)) // queued without Run: Close spools and delivers it
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.Record(newEvent(2))
	st := w.Stats()
	if st.Dropped[audit.DropClosed] != 1 || st.Sinks[0].Delivered != 1 {
		t.Fatalf("stats after close: %+v", st)
	}
	if err := w.Run(context.Background()); err == nil {
		t.Fatal("Run after Close succeeded")
	}
}

func TestOptionsValidation(t *testing.T) {
	mem := newMemSink()
	tests := []struct {
		name string
		opts audit.Options
	}{
		{"no spool", audit.Options{Sinks: []audit.NamedSink{{Name: "a", Sink: mem}}}},
		{"no sinks", audit.Options{SpoolDir: t.TempDir()}},
		{"bad name", audit.Options{SpoolDir: t.TempDir(), Sinks: []audit.NamedSink{{Name: "A/B", Sink: mem}}}},
		{"dup name", audit.Options{SpoolDir: t.TempDir(), Sinks: []audit.NamedSink{{Name: "a", Sink: mem}, {Name: "a", Sink: mem}}}},
		{"policy", audit.Options{SpoolDir: t.TempDir(), Sinks: []audit.NamedSink{{Name: "a", Sink: mem}}, FullPolicy: "wait"}},
		{"tiny spool", audit.Options{SpoolDir: t.TempDir(), Sinks: []audit.NamedSink{{Name: "a", Sink: mem}}, SegmentBytes: 100, MaxSpoolBytes: 150}},
	}
	for _, tt := range tests {
		if _, err := audit.New(tt.opts); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

// BenchmarkRecord measures the request-path cost of Record while the
// writer spools and delivers to a memory sink.
func BenchmarkRecord(b *testing.B) {
	opts := fastOptions(b.TempDir(), audit.NamedSink{Name: "mem", Sink: newMemSink()})
	opts.QueueSize = 1 << 16
	w, err := audit.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	ev := newEvent(1)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.Record(ev)
	}
	b.StopTimer()
	cancel()
	<-done
	_ = w.Close()
	st := w.Stats()
	b.ReportMetric(float64(st.Dropped[audit.DropQueueFull])/float64(b.N), "dropped/op")
}

// BenchmarkSpoolAndDeliver measures sustained throughput: records sealed,
// fsync'd to the spool and delivered to a file sink (fsync per batch).
func BenchmarkSpoolAndDeliver(b *testing.B) {
	dir := b.TempDir()
	file, err := audit.NewFileSink(audit.FileOptions{Path: filepath.Join(dir, "audit.jsonl")})
	if err != nil {
		b.Fatal(err)
	}
	opts := fastOptions(filepath.Join(dir, "spool"), audit.NamedSink{Name: "file", Sink: file})
	opts.QueueSize = b.N + 1
	w, err := audit.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Run(ctx); close(done) }()
	ev := newEvent(1)
	b.ResetTimer()
	for range b.N {
		w.Record(ev)
	}
	for w.Stats().Sinks[0].Cursor < uint64(b.N) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	cancel()
	<-done
	_ = w.Close()
}

// TestWriterRecoversFromCrashState reproduces what a crash leaves on disk: a
// sink cursor older than what the file sink holds (crash between the file
// write and the cursor save) and a torn last line in the spool. The next
// writer continues the chain and the file gets no record twice.
func TestWriterRecoversFromCrashState(t *testing.T) {
	dir := t.TempDir()
	spool := filepath.Join(dir, "spool")
	logPath := filepath.Join(dir, "audit.jsonl")
	open := func() (*audit.Writer, *audit.FileSink) {
		t.Helper()
		file, err := audit.NewFileSink(audit.FileOptions{Path: logPath})
		if err != nil {
			t.Fatal(err)
		}
		w, err := audit.New(fastOptions(spool, audit.NamedSink{Name: "file", Sink: file}))
		if err != nil {
			t.Fatal(err)
		}
		return w, file
	}
	w1, _ := open()
	for i := 0; i < 30; i++ {
		w1.Record(newEvent(i))
	}
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(spool, "cursor-file.json"), []byte(`{"seq":12}`), 0o600); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(spool, "seg-00000000000000000001.jsonl")
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"torn","seq":31,"cha`)
	f.Close()

	w2, file := open()
	if st := w2.Stats(); st.LastSeq != 30 || st.Pending != 18 {
		t.Fatalf("after crash: last seq %d pending %d, want 30 and 18", st.LastSeq, st.Pending)
	}
	startWriter(t, w2)
	for i := 30; i < 40; i++ {
		w2.Record(newEvent(i))
	}
	testkit.Eventually(t, 15*time.Second, "40 records in the file", func() bool { return sinkStats(w2, "file").Cursor == 40 })
	if err := w2.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := file.Files()
	rep, err := audit.VerifyFiles(files, audit.VerifyOptions{})
	if err != nil || !rep.OK || rep.Records != 40 {
		t.Fatalf("file after crash recovery: %+v %v err %v", rep, rep.Problem, err)
	}
}

// Issue 22: a Writer with the default queue (8192 records) kept 3.4 MB of
// heap from its start, empty or not (a heap profile of the full pipeline:
// audit.New), and every collection scanned it. An empty queue now costs
// its pointers only.
func TestEmptyQueueIsSmall(t *testing.T) {
	before := testkit.LiveHeap()
	w, err := audit.New(fastOptions(t.TempDir(), audit.NamedSink{Name: "mem", Sink: newMemSink()}))
	if err != nil {
		t.Fatal(err)
	}
	held := testkit.LiveHeap() - before
	runtime.KeepAlive(w)
	w.Close()
	if held > 512<<10 {
		t.Errorf("a new Writer with an empty queue holds %d bytes of heap", held)
	}
}
