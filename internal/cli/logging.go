package cli

import (
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/config"
)

// newLogger builds the process logger from the log section. A JSON log
// also writes lines its callers encoded themselves (WriteLine: the HTTP
// access log's, httpapi.LineWriter), whole and in order with its own, and
// holds those back briefly to write many in one go (lockedWriter); flush
// writes what is held, for the end of the process.
func newLogger(w io.Writer, c config.Log) (log *slog.Logger, flush func()) {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts)), func() {}
	}
	out := &lockedWriter{w: w, max: heldLimit(w)}
	return slog.New(jsonLog{Handler: slog.NewJSONHandler(out, opts), out: out}), out.flush
}

// heldLimit is how many bytes of lines a log to w writes at once: on a
// pipe (a container's standard error, a supervisor's, which other
// processes may write to as well) no more than one write the kernel keeps
// whole against other writers (PIPE_BUF, 4 KiB on Linux); elsewhere
// maxHeld.
func heldLimit(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
			return pipeBuf
		}
	}
	return maxHeld
}

// jsonLog is slog's JSON handler, and WriteLine for lines encoded
// elsewhere; both write through out.
type jsonLog struct {
	slog.Handler
	out *lockedWriter
}

// WriteLine writes one encoded line (with its newline) to the log, soon
// (see lockedWriter).
func (h jsonLog) WriteLine(line []byte) { h.out.hold(line) }

// The encoded lines a log holds: written when this many bytes are held,
// or this long after the first of them.
const (
	maxHeld  = 32 << 10
	pipeBuf  = 4 << 10
	holdTime = 100 * time.Millisecond
)

// lockedWriter serializes the log's writes: a line is one Write, so lines
// from slog's handler and from WriteLine never interleave. The encoded
// lines (one an HTTP request: the access log, whatever its level) are
// held and written together: in one write before the held bytes would
// pass max (32 KiB; 4 KiB on a pipe, see heldLimit), holdTime after the
// first of them, or with the next line of slog's (whose lines, warnings
// and errors among them, are written at once, after the held ones: the
// order is kept).
// An access line a request was a write(2) a request, most of the access
// log's cost (bench/RESULTS.md); peers hold theirs the same way (envoy
// flushes its access logs every second, nginx has access_log's buffer=).
// A process that dies at once loses at most holdTime of access lines.
type lockedWriter struct {
	mu    sync.Mutex
	w     io.Writer
	max   int // bytes written at once at most (0: maxHeld)
	held  []byte
	timer *time.Timer // armed while lines are held
	armed bool
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.held) == 0 {
		return l.w.Write(b)
	}
	if len(l.held)+len(b) > l.limit() {
		l.writeHeld()
		return l.w.Write(b)
	}
	l.held = append(l.held, b...) // after the held lines, in the same write
	_, err := l.w.Write(l.held)
	l.held = l.held[:0]
	return len(b), err
}

func (l *lockedWriter) limit() int {
	if l.max == 0 {
		return maxHeld
	}
	return l.max
}

// hold adds an encoded line to the held ones.
func (l *lockedWriter) hold(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.held)+len(line) > l.limit() {
		l.writeHeld()
		if len(line) > l.limit() {
			_, _ = l.w.Write(line)
			return
		}
	}
	l.held = append(l.held, line...)
	if l.armed {
		return
	}
	l.armed = true
	if l.timer == nil {
		l.timer = time.AfterFunc(holdTime, l.flush)
	} else {
		l.timer.Reset(holdTime)
	}
}

// flush writes the held lines.
func (l *lockedWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writeHeld()
	l.armed = false
}

func (l *lockedWriter) writeHeld() {
	if len(l.held) == 0 {
		return
	}
	_, _ = l.w.Write(l.held)
	l.held = l.held[:0]
}
