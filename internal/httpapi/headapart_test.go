package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A panic in a stream's first flush or first long write, which headApart
// runs on a goroutine of its own: the frame recovers it and logs it with
// the stack where it happened, as when the write ran on the handler's
// goroutine (not from headApart down).
func TestHeadApartPanicStack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		w     func() http.ResponseWriter
		write func(s *sseSink)
		where string
	}{
		{"flush", func() http.ResponseWriter { return panickingFlush{httptest.NewRecorder()} },
			func(s *sseSink) { s.Data([]byte(`{"choices":[]}`)); s.Flush() }, "explodingFlush"},
		{"long write", func() http.ResponseWriter { return panickingWrite{httptest.NewRecorder()} },
			func(s *sseSink) { s.Data([]byte(`{"x":"` + strings.Repeat("a", heldEvents) + `"}`)) }, "explodingWrite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logged strings.Builder
			o := &Options{Logger: slog.New(slog.NewJSONHandler(&logged, nil))}
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { tc.write(sinkFor(w)) })
			func() {
				defer func() { recover() }() // the error event's own write panics again
				frame(h, o).ServeHTTP(tc.w(), httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader("{}")))
			}()
			if !strings.Contains(logged.String(), "panic serving request") {
				t.Fatalf("no panic logged: %s", logged.String())
			}
			if !strings.Contains(logged.String(), tc.where) {
				t.Errorf("the logged stack does not show where it panicked (%s):\n%.3000s", tc.where, logged.String())
			}
		})
	}
}

type panickingFlush struct{ *httptest.ResponseRecorder }

func (w panickingFlush) FlushError() error { explodingFlush(); return nil }

//go:noinline
func explodingFlush() { panic("flush broke") }

type panickingWrite struct{ *httptest.ResponseRecorder }

func (w panickingWrite) Write([]byte) (int, error) {
	explodingWrite()
	return 0, errors.New("unreachable")
}

//go:noinline
func explodingWrite() { panic("write broke") }
