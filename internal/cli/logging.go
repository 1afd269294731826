package cli

import (
	"io"
	"log/slog"
	"sync"

	"github.com/dsgate/dsgate/internal/config"
)

// newLogger builds the process logger from the log section. A JSON log
// also writes lines its callers encoded themselves (WriteLine: the HTTP
// access log's, httpapi.LineWriter), whole and in order with its own.
func newLogger(w io.Writer, c config.Log) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	out := &lockedWriter{w: w}
	return slog.New(jsonLog{Handler: slog.NewJSONHandler(out, opts), out: out})
}

// jsonLog is slog's JSON handler, and WriteLine for lines encoded
// elsewhere; both write through out.
type jsonLog struct {
	slog.Handler
	out *lockedWriter
}

// WriteLine writes one encoded line (with its newline) to the log.
func (h jsonLog) WriteLine(line []byte) { _, _ = h.out.Write(line) }

// lockedWriter serializes its writes: a line is one Write, so lines from
// slog's handler and from WriteLine never interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
