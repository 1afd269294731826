package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// Issue 22: a stream's sink held its 2 KiB event buffer from the first
// event to the end, so every open stream kept one while it waited for the
// upstream (2.4 KB of an idle stream's 63 KB in bench/streams). It now
// holds one only between an event and the next flush, which the gateway
// does before every wait.
func TestSinkHoldsNoBufferWhileWaiting(t *testing.T) {
	rec := httptest.NewRecorder()
	s := &sseSink{w: rec}
	for range 3 { // a burst: one buffer for all of it
		if err := s.Data([]byte(`{"choices":[]}`)); err != nil {
			t.Fatal(err)
		}
		if s.buf == nil {
			t.Fatal("no event buffer while events are written")
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if s.buf != nil {
		t.Error("the sink holds its event buffer after a flush, while it waits")
	}
	if err := s.Comment([]byte(": ping")); err != nil {
		t.Fatal(err)
	}
	s.end() // the frame's, at the end of the request
	s.release()
	if s.buf != nil {
		t.Error("the sink holds its event buffer after the request")
	}
	want := "data: {\"choices\":[]}\n\n" + "data: {\"choices\":[]}\n\n" + "data: {\"choices\":[]}\n\n" + ": ping\n\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("written:\n%q\nwant:\n%q", got, want)
	}
}

// countingWriter counts the response writer's writes.
type countingWriter struct {
	*httptest.ResponseRecorder
	writes int
}

func (w *countingWriter) Write(b []byte) (int, error) {
	w.writes++
	return w.ResponseRecorder.Write(b)
}

// Issue 22: each event was a write of the response writer (some 0.2 µs,
// and its 2 KiB buffer framed a burst in chunks of that size). The events
// between two flushes leave in one write; a long burst is written as it
// passes heldEvents, not gathered whole; the frame writes what a stream
// that ended without a flush still holds.
func TestSinkWritesTheEventsOfAFlushAtOnce(t *testing.T) {
	w := &countingWriter{ResponseRecorder: httptest.NewRecorder()}
	s := &sseSink{w: w}
	for range 20 {
		if err := s.Data([]byte(`{"choices":[]}`)); err != nil {
			t.Fatal(err)
		}
	}
	if w.writes != 0 {
		t.Errorf("20 events made %d writes before the flush, want none", w.writes)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := w.writes; got != 1 {
		t.Errorf("the flush of 20 events made %d writes, want 1", got)
	}

	big := []byte(`{"text":"` + strings.Repeat("x", 1000) + `"}`)
	before := w.writes
	n := 2 * heldEvents / len(big)
	for range n {
		if err := s.Data(big); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.writes - before; got < 1 || s.buf != nil && len(*s.buf) >= heldEvents {
		t.Errorf("%d events of %d bytes: %d writes before the flush, %d bytes held; want them written past %d",
			n, len(big), got, len(*s.buf), heldEvents)
	}
	if err := s.Data([]byte(`{"last":true}`)); err != nil {
		t.Fatal(err)
	}
	s.end() // a stream that ended with [DONE]: the frame writes what is held
	s.release()
	if got := w.Body.String(); !strings.HasSuffix(got, "data: {\"last\":true}\n\n") {
		t.Errorf("the held event was not written at the end: ...%q", got[max(0, len(got)-40):])
	}
	if want := 20 + n + 1; strings.Count(w.Body.String(), "data: ") != want {
		t.Errorf("%d events written, want %d", strings.Count(w.Body.String(), "data: "), want)
	}
}
