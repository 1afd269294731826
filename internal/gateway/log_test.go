package gateway_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/upstream"
)

// lockedWriter serialises writes to a shared buffer.
type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func newTestLogger(buf *bytes.Buffer, mu *sync.Mutex) *slog.Logger {
	return slog.New(slog.NewTextHandler(lockedWriter{mu: mu, buf: buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type nopObs struct{}

func (nopObs) Attempt(string, string, upstream.Outcome, time.Duration) {}
func (nopObs) Retry(string, string)                                    {}
func (nopObs) Fallback(string)                                         {}
func (nopObs) Stall(string)                                            {}

var _ = context.Background
