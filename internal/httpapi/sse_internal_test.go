package httpapi

import (
	"net/http/httptest"
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
	s.release() // the frame's, at the end of the request
	if s.buf != nil {
		t.Error("the sink holds its event buffer after the request")
	}
	want := "data: {\"choices\":[]}\n\n" + "data: {\"choices\":[]}\n\n" + "data: {\"choices\":[]}\n\n" + ": ping\n\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("written:\n%q\nwant:\n%q", got, want)
	}
}
