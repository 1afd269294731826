package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Sink receives sealed events in sequence order.
//
// The Writer calls Write from one goroutine per sink, never concurrently,
// with batches in increasing Seq order; after a failed Write it retries
// with the same events (and maybe more), so Write must be idempotent per
// event (by ID or Seq) wherever the destination allows. Write returns nil
// only when every event in batch is durably accepted. The batch slice is
// only valid during the call. Close is called once, by the Writer's Close.
type Sink interface {
	Write(ctx context.Context, batch []Event) error
	Close() error
}

// Tailer is implemented by sinks that know the last record they hold. When
// the spool is empty (a new spool directory), the Writer continues the chain
// from the highest Tail of its sinks instead of starting a new one.
type Tailer interface {
	Tail() (seq uint64, hash string, ok bool)
}

// NamedSink pairs a sink with a stable name: the name keys the sink's
// delivery cursor on disk and its metrics label, so keep it across restarts.
type NamedSink struct {
	Name string
	Sink Sink
}

// WriterSink writes JSON lines to an io.Writer, such as os.Stdout for a log
// collector. It is at-least-once across a crash: it cannot know what its
// reader already got.
type WriterSink struct {
	mu sync.Mutex
	w  io.Writer
}

var _ Sink = (*WriterSink)(nil)

// NewWriterSink returns a sink writing to w. Close does not close w.
func NewWriterSink(w io.Writer) *WriterSink { return &WriterSink{w: w} }

// Write writes the batch as one write call.
func (s *WriterSink) Write(_ context.Context, batch []Event) error {
	buf, err := appendLines(nil, batch)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(buf); err != nil {
		return fmt.Errorf("writing audit lines: %w", err)
	}
	return nil
}

// Close does nothing.
func (s *WriterSink) Close() error { return nil }

// appendLines appends the batch as JSON lines to dst, grown once to hold
// the sealed records' lines (grown by doubling, it made twice their bytes
// of garbage: issue 22).
func appendLines(dst []byte, batch []Event) ([]byte, error) {
	n := 0
	for i := range batch {
		n += len(batch[i].raw) + 1
	}
	buf := bytes.NewBuffer(slices.Grow(dst, n))
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	for i := range batch {
		if raw := batch[i].raw; len(raw) > 0 {
			buf.Write(raw)
			buf.WriteByte('\n')
			continue
		}
		if err := enc.Encode(&batch[i]); err != nil {
			return nil, fmt.Errorf("encoding audit event: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// errSinkClosed is returned by a closed sink's Write.
var errSinkClosed = errors.New("audit sink closed")
