package cli

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/config"
)

// newLogger builds the process logger from the log section, and the
// function that writes out what it still holds (call it before exiting).
//
// Access lines (one per request or gRPC call, at Info: the messages in
// accessMessages) are held in a buffer that is written out at most
// accessFlush after its first line, or when 32 KiB are held: a write
// system call per request was 3 to 4% of a request's CPU with the access
// log on (bench/RESULTS.md). Every other line is written at once, and
// writes out the held lines before it, so the log keeps its order and a
// warning is never late. A process that dies without flushing loses at
// most accessFlush of access lines; nginx's buffered access_log makes the
// same trade.
func newLogger(w io.Writer, c config.Log) (*slog.Logger, func()) {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level)) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	lw := &logWriter{out: w, delay: accessFlush}
	var h slog.Handler = slog.NewJSONHandler(lw, opts)
	if c.Format == "text" {
		h = slog.NewTextHandler(lw, opts)
	}
	return slog.New(flushingHandler{h, lw}), func() { lw.Flush() }
}

// accessMessages are the messages of the access lines httpapi and
// grpcapi write.
var accessMessages = map[string]bool{"request": true, "grpc call": true}

// accessFlush is the longest an access line waits in the buffer.
const accessFlush = 100 * time.Millisecond

// flushingHandler writes every record through its handler and then, for
// any record but an access line at Info, flushes the writer.
type flushingHandler struct {
	slog.Handler
	w *logWriter
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level != slog.LevelInfo || !accessMessages[r.Message] {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return flushingHandler{h.Handler.WithAttrs(as), h.w}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{h.Handler.WithGroup(name), h.w}
}

// logWriter holds what is written until Flush, until delay has passed
// since the first byte it holds, or until it holds 32 KiB.
type logWriter struct {
	mu    sync.Mutex
	out   io.Writer
	delay time.Duration
	buf   []byte
	timer *time.Timer
	armed bool // the timer will flush
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) >= 32<<10 {
		return len(p), w.flushLocked()
	}
	if !w.armed {
		w.armed = true
		if w.timer == nil {
			w.timer = time.AfterFunc(w.delay, w.timed)
		} else {
			w.timer.Reset(w.delay)
		}
	}
	return len(p), nil
}

// Flush writes out what w holds.
func (w *logWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *logWriter) timed() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	w.flushLocked()
}

func (w *logWriter) flushLocked() error {
	if len(w.buf) == 0 {
		return nil
	}
	_, err := w.out.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}
