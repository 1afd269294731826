package cli

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/testkit"
)

// A JSON process log takes lines encoded elsewhere (httpapi.LineWriter,
// the access log's fast path), in order with its own; a text log does
// not, so the access log goes through slog there.
func TestJSONLogWritesEncodedLines(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log, _ := newLogger(&buf, config.Log{Level: "info"})
	if !isLineWriter(log) {
		t.Fatal("the JSON log has no WriteLine: the access log would be encoded by slog")
	}
	lw := log.Handler().(interface{ WriteLine([]byte) })
	log.Info("first")
	lw.WriteLine([]byte("{\"msg\":\"encoded\"}\n"))
	log.Info("last")
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], `"first"`) || lines[1] != `{"msg":"encoded"}` || !strings.Contains(lines[2], `"last"`) {
		t.Errorf("log = %q", buf.String())
	}
	if text, _ := newLogger(&buf, config.Log{Level: "info", Format: "text"}); isLineWriter(text) {
		t.Error("a text log takes JSON lines")
	}
}

func isLineWriter(log *slog.Logger) bool {
	_, ok := log.Handler().(interface{ WriteLine([]byte) })
	return ok
}

// countingWriter counts the writes it is given.
type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes++
	return w.buf.Write(b)
}

func (w *countingWriter) state() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.writes
}

// The access lines of many requests leave in a few writes, not one each;
// all of them, in order, by the flush at the end, and each within the
// hold time without one.
func TestEncodedLinesHeldAndWrittenTogether(t *testing.T) {
	t.Parallel()
	var w countingWriter
	log, flush := newLogger(&w, config.Log{Level: "info"})
	lw := log.Handler().(interface{ WriteLine([]byte) })
	var want strings.Builder
	for i := range 200 {
		line := fmt.Sprintf("{\"msg\":\"request\",\"n\":%d}\n", i)
		lw.WriteLine([]byte(line))
		want.WriteString(line)
	}
	flush()
	got, writes := w.state()
	if got != want.String() {
		t.Fatalf("log after flush = %q, want the 200 lines in order", got)
	}
	if writes > 10 { // one, or a few if the hold time passed meanwhile
		t.Errorf("200 lines took %d writes", writes)
	}
	lw.WriteLine([]byte("{\"msg\":\"alone\"}\n"))
	testkit.Eventually(t, 5*time.Second, "the held line written without a flush", func() bool {
		got, _ := w.state()
		return strings.HasSuffix(got, "{\"msg\":\"alone\"}\n")
	})
}

// No more than maxHeld bytes are held, a line longer than that is
// written whole, and a line of slog's follows the lines held before it.
func TestEncodedLinesHeldBounded(t *testing.T) {
	t.Parallel()
	var w countingWriter
	out := &lockedWriter{w: &w}
	line := []byte(strings.Repeat("x", 1000) + "\n")
	var want bytes.Buffer
	for range 100 {
		out.hold(line)
		want.Write(line)
		out.mu.Lock()
		held := len(out.held)
		out.mu.Unlock()
		if held > maxHeld {
			t.Fatalf("%d bytes held", held)
		}
	}
	huge := []byte(strings.Repeat("y", maxHeld+1) + "\n")
	out.hold(huge)
	want.Write(huge)
	out.Write([]byte("slog\n"))
	want.WriteString("slog\n")
	if got, _ := w.state(); got != want.String() {
		t.Errorf("the log lost or reordered lines: %d bytes, want %d", len(got), want.Len())
	}
}

// Lines from many goroutines, held and not, all arrive whole (run with
// -race).
func TestEncodedLinesConcurrent(t *testing.T) {
	t.Parallel()
	var w countingWriter
	log, flush := newLogger(&w, config.Log{Level: "info"})
	lw := log.Handler().(interface{ WriteLine([]byte) })
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 300 {
				if i%10 == 0 {
					log.Info("slog", "g", g, "i", i)
					continue
				}
				lw.WriteLine(fmt.Appendf(nil, "{\"g\":%d,\"i\":%d}\n", g, i))
			}
		})
	}
	wg.Wait()
	flush()
	got, _ := w.state()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 4*300 {
		t.Fatalf("%d lines, want %d", len(lines), 4*300)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "{") || !strings.HasSuffix(l, "}") {
			t.Fatalf("a line not whole: %q", l)
		}
	}
}

// A line of slog's written while lines are held leaves with them, after
// them, in one write.
func TestSlogLineTakesTheHeldLines(t *testing.T) {
	t.Parallel()
	var w countingWriter
	out := &lockedWriter{w: &w}
	out.hold([]byte("{\"n\":1}\n"))
	out.hold([]byte("{\"n\":2}\n"))
	if n, err := out.Write([]byte("{\"msg\":\"slog\"}\n")); n != len("{\"msg\":\"slog\"}\n") || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	got, writes := w.state()
	if want := "{\"n\":1}\n{\"n\":2}\n{\"msg\":\"slog\"}\n"; got != want || writes != 1 {
		t.Errorf("log = %q in %d writes, want %q in one", got, writes, want)
	}
	out.Write([]byte("{\"msg\":\"next\"}\n")) // nothing held: written as it is
	if got, writes := w.state(); writes != 2 || !strings.HasSuffix(got, "{\"msg\":\"next\"}\n") {
		t.Errorf("log = %q in %d writes", got, writes)
	}
}

// On a pipe the log writes at most PIPE_BUF bytes at once, so its writes
// stay whole against another process's writes to the same pipe; held
// lines and a slog line after them too. Elsewhere it holds up to maxHeld.
func TestEncodedLinesWithinAPipesAtomicWrite(t *testing.T) {
	t.Parallel()
	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer pw.Close()
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := heldLimit(pw); got != pipeBuf {
		t.Errorf("held on a pipe: %d bytes, want %d", got, pipeBuf)
	}
	if got := heldLimit(f); got != maxHeld {
		t.Errorf("held on a file: %d bytes, want %d", got, maxHeld)
	}
	var w sizesWriter
	out := &lockedWriter{w: &w, max: pipeBuf}
	var want bytes.Buffer
	for i := range 200 {
		line := fmt.Appendf(nil, "{\"n\":%d,\"pad\":%q}\n", i, strings.Repeat("x", i%300))
		out.hold(line)
		want.Write(line)
		if i%37 == 0 {
			slogLine := []byte(strings.Repeat("s", 900) + "\n")
			out.Write(slogLine)
			want.Write(slogLine)
		}
	}
	out.flush()
	if w.buf.String() != want.String() {
		t.Fatalf("the log lost or reordered lines")
	}
	for _, n := range w.sizes {
		if n > pipeBuf {
			t.Fatalf("a write of %d bytes on a pipe (writes: %v)", n, w.sizes)
		}
	}
	if len(w.sizes) > 200/5 {
		t.Errorf("%d writes for 200 lines: not held together", len(w.sizes))
	}
}

// sizesWriter keeps what is written and the size of each write.
type sizesWriter struct {
	buf   bytes.Buffer
	sizes []int
}

func (w *sizesWriter) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.buf.Write(p)
}
