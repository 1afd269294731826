package cli

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/testkit"
)

// syncBuffer is the process's stderr as a test sees it: written from the
// logger and from the flush timer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Access lines wait in a buffer (a write system call per request was
// 3-4% of its CPU); every other line leaves at once, after the access
// lines before it, and the held lines leave by themselves soon after, or
// when the process flushes before exiting.
func TestAccessLinesAreBuffered(t *testing.T) {
	out := &syncBuffer{}
	log, flush := newLogger(out, config.Log{Level: "info", Format: "json"})
	log.Info("request", "path", "/v1/a")
	log.Info("grpc call", "method", "/b")
	if got := out.String(); got != "" {
		t.Fatalf("access lines written at once: %q", got)
	}
	log.Warn("upstream unhealthy", "upstream", "x")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "/v1/a") || !strings.Contains(lines[1], "/b") || !strings.Contains(lines[2], "unhealthy") {
		t.Fatalf("a warning did not write the held access lines first, in order:\n%s", out.String())
	}

	log.Info("request", "path", "/v1/c")
	log.Warn("request", "path", "/v1/5xx") // an access line at Warn leaves at once
	if !strings.Contains(out.String(), "/v1/5xx") || !strings.Contains(out.String(), "/v1/c") {
		t.Fatalf("an access line at Warn was held:\n%s", out.String())
	}

	log.Info("request", "path", "/v1/d")
	testkit.Eventually(t, 5*time.Second, "the held line written by the timer", func() bool {
		return strings.Contains(out.String(), "/v1/d")
	})

	log.With("k", "v").Info("request", "path", "/v1/e")
	log.Info("config reloaded") // not an access line: at once, with the one before
	if !strings.Contains(out.String(), "/v1/e") || !strings.Contains(out.String(), "config reloaded") {
		t.Fatalf("a line other than an access line was held:\n%s", out.String())
	}

	log.Info("request", "path", "/v1/f")
	flush()
	if !strings.Contains(out.String(), "/v1/f") {
		t.Fatalf("flush did not write the held line:\n%s", out.String())
	}
}
