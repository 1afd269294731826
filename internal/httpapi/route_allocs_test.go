//go:build !race

package httpapi_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRouteAllocs holds the allocations of a whole request through each
// API (BenchmarkRoute's handler and conversation, the 20-chunk stream;
// the test's own request and chunk copies included) to what they were
// when measured (issue 19: a translation's garbage cost about a
// microsecond a kilobyte in the real server). A change that adds one
// fails here and says which route; lower the bounds when a change removes
// some. A stream's include the goroutine its head is written from (one
// allocation, for 8 KiB less of stack every open stream keeps:
// sseSink.headApart).
func TestRouteAllocs(t *testing.T) {
	for _, tt := range []struct {
		name, path, body string
		stream           bool
		max              float64
	}{
		{"chat", "/v1/chat/completions", benchChat, false, 31},
		{"chat stream", "/v1/chat/completions", benchChat, true, 50},
		{"messages", "/v1/messages", benchMessages, false, 42},
		{"messages stream", "/v1/messages", benchMessages, true, 59},
		{"responses", "/v1/responses", benchResponses, false, 38},
		{"responses stream", "/v1/responses", benchResponses, true, 57},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := benchHandler(benchLongChunks, false)
			body := tt.body
			if tt.stream {
				body = strings.Replace(body, `"max_`, `"stream":true,"max_`, 1)
			}
			w := newServerWriter()
			got := testing.AllocsPerRun(200, func() {
				req := httptest.NewRequest("POST", tt.path, strings.NewReader(body))
				w.reset()
				h.ServeHTTP(w, req)
				if w.code != 200 {
					t.Fatalf("status %d", w.code)
				}
			})
			if got > tt.max {
				t.Errorf("%s: %.0f allocations a request, want at most %.0f", tt.name, got, tt.max)
			}
		})
	}
}
