//go:build !race

package httpapi

import (
	"net/http"
	"testing"

	"github.com/dsgate/dsgate/internal/gateway"
)

// Allocation counts of the per-request header writing (bench/cpu, issue
// 22). The race detector allocates, so these build without it;
// scripts/test.sh runs them in its "-run Allocs" step.

// headerWriter is a ResponseWriter whose header map already has room, so
// only what writeAnswer itself allocates is counted.
type headerWriter struct{ h http.Header }

func (w headerWriter) Header() http.Header         { return w.h }
func (w headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w headerWriter) WriteHeader(int)             {}

func TestWriteAnswerAllocs(t *testing.T) {
	w := headerWriter{h: make(http.Header, 8)}
	res := &gateway.Result{Body: make([]byte, 1234), Upstream: "up"}
	got := testing.AllocsPerRun(100, func() { writeAnswer(w, res, res.Body) })
	// One backing array for the three values and the formatted length
	// (four allocations with Header.Set, one slice per header).
	if got > 2 {
		t.Fatalf("writeAnswer: %.0f allocations, want at most 2", got)
	}
	if w.h.Get("Content-Length") != "1234" || w.h.Get("X-Dsgate-Upstream") != "up" || w.h.Get("Content-Type") != "application/json" {
		t.Fatalf("headers = %v", w.h)
	}
}

func TestSetHeadersAllocs(t *testing.T) {
	h := make(http.Header, 8)
	got := testing.AllocsPerRun(100, func() { setHeaders(h, "X-Request-Id", "abc", "X-Content-Type-Options", "nosniff") })
	if got != 1 {
		t.Fatalf("setHeaders: %.0f allocations, want 1", got)
	}
	h.Add("X-Request-Id", "def") // must not write into the neighbour's value
	if h.Get("X-Content-Type-Options") != "nosniff" || len(h["X-Request-Id"]) != 2 {
		t.Fatalf("headers = %v", h)
	}
}
