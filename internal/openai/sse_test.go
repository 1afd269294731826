package openai

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSSEReader(t *testing.T) {
	t.Parallel()
	in := ": keep-alive\n\n" +
		"data: {\"a\":1}\n\n" +
		"event: message\r\nid: 7\r\ndata: {\"b\":\r\ndata: 2}\r\n\r\n" +
		"data:[DONE]\n\n"
	r := NewSSEReader(strings.NewReader(in), 1<<10)
	var got []string
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		s := string(ev.Data)
		if ev.Comment {
			s = "comment:" + s
		}
		if ev.Done() {
			s = "DONE"
		}
		got = append(got, s)
	}
	want := []string{"comment:: keep-alive", `{"a":1}`, "{\"b\":\n2}", "DONE"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestSSEReaderTruncated(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"data: {\"a\":1}\n", "data: {\"a\""} {
		r := NewSSEReader(strings.NewReader(in), 1<<10)
		if _, err := r.Next(); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: err = %v, want ErrUnexpectedEOF", in, err)
		}
	}
}

func TestSSEReaderLineLimit(t *testing.T) {
	t.Parallel()
	in := "data: " + strings.Repeat("x", 100<<10) + "\n\n"
	r := NewSSEReader(strings.NewReader(in), 32<<10)
	if _, err := r.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Errorf("err = %v, want ErrLineTooLong", err)
	}
	r = NewSSEReader(strings.NewReader(in), 200<<10)
	ev, err := r.Next()
	if err != nil || len(ev.Data) != 100<<10 {
		t.Errorf("long line within limit: len %d err %v", len(ev.Data), err)
	}
}

// FuzzSSEReader checks the parser never panics or loops, and that what it
// returns is consistent with its input.
func FuzzSSEReader(f *testing.F) {
	for _, s := range []string{"data: x\n\n", ": c\n\ndata: [DONE]\n\n", "data: a\r\ndata: b\r\n\r\n", "data", "\n\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewSSEReader(strings.NewReader(string(in)), 4<<10)
		for i := 0; i <= len(in); i++ {
			ev, err := r.Next()
			if err != nil {
				return
			}
			if len(ev.Data) > len(in) {
				t.Fatalf("event longer than input")
			}
		}
		t.Fatalf("more events than input bytes")
	})
}

// FuzzParse checks that request decoding never panics, that every
// rejection is a 400 in OpenAI's shape.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`), uint8(0))
	f.Add([]byte(`{"model":"m","prompt":"a","suffix":"b"}`), uint8(2))
	f.Add([]byte(`{"model":"m","input":["a"]}`), uint8(3))
	f.Add([]byte(`{"model":"m","MODEL":"x","stream":true,"stream_options":{"include_usage":1,"Include_usage":2},"messages":[{"role":"user","ROLE":"x"}]}`), uint8(0))
	f.Add([]byte(`{"thinking":{"type":1,"tyPe":2},"chat_template_kwargs":{"a":1,"A":2},"\u017ftream":1}`), uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, e uint8) {
		_, err := Parse(Endpoint(e%4), body)
		// The walk checks the syntax (no validating pass before it): a
		// malformed object is refused as malformed.
		if b := trimSpace(body); len(b) > 0 && b[0] == '{' && !json.Valid(body) {
			if err == nil || !strings.HasPrefix(err.(*Error).Message, "malformed JSON") {
				t.Fatalf("Parse(%q) = %v, want malformed JSON", body, err)
			}
		}
		if err == nil {
			return
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != 400 {
			t.Fatalf("err = %v", err)
		}
	})
}

// Issue 22: a reader is held per open stream, so its buffer ends small
// for a stream whose chat-sized chunks arrive one at a time, stays at
// sseBurstSize for a burst (issue 14: so a burst is flushed once, not once
// per kilobyte) and grows beyond only for a long line.
func TestSSEReaderBufferSizedToNeed(t *testing.T) {
	t.Parallel()
	chunk := `data: {"choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null}]}` + "\n\n"
	in := strings.Repeat(chunk, 500) + "data: " + strings.Repeat("y", 5000) + "\n\n" + chunk
	for _, tc := range []struct {
		name string
		src  func() io.Reader
		size int // the buffer after the 500 small events
	}{
		{"one event per read", func() io.Reader { return &eventReader{rest: in} }, sseBufferSize},
		{"one byte per read", func() io.Reader { return iotest.OneByteReader(strings.NewReader(in)) }, sseBufferSize},
		{"all at once", func() io.Reader { return strings.NewReader(in) }, sseBurstSize},
	} {
		r := NewSSEReader(tc.src(), 8<<10)
		for i := range 500 {
			ev, err := r.Next()
			if err != nil || string(ev.Data) != chunk[len("data: "):len(chunk)-2] {
				t.Fatalf("%s: event %d: %q %v", tc.name, i, ev.Data, err)
			}
		}
		if len(r.buf) != tc.size {
			t.Errorf("%s: buffer is %d bytes after small events, want %d", tc.name, len(r.buf), tc.size)
		}
		if ev, err := r.Next(); err != nil || len(ev.Data) != 5000 {
			t.Fatalf("%s: long event: %d bytes, %v", tc.name, len(ev.Data), err)
		}
		if ev, err := r.Next(); err != nil || !strings.Contains(string(ev.Data), "tok") {
			t.Fatalf("%s: after the long event: %q %v", tc.name, ev.Data, err)
		}
		if _, err := r.Next(); err != io.EOF {
			t.Errorf("%s: end: %v", tc.name, err)
		}
	}
}

// Issue 14: with a burst buffered, EventBuffered sees the events after the
// first kilobyte, so a writer that flushes only when it would wait flushes
// a 4 KiB burst once or twice, not once per kilobyte.
func TestSSEReaderBurstIsSeenBuffered(t *testing.T) {
	t.Parallel()
	chunk := `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null}]}` + "\n\n"
	burst := strings.Repeat(chunk, 30) // about 4 KiB, as an upstream's quick answer arrives
	r := NewSSEReader(strings.NewReader(burst+burst), 64<<10)
	flushes := 0
	for {
		if _, err := r.Next(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if !r.EventBuffered() {
			flushes++
		}
	}
	if flushes > 6 {
		t.Errorf("%d flushes for 60 events read in bursts", flushes)
	}
}

// eventReader returns one SSE event per Read, as a stream that sends a
// token at a time arrives.
type eventReader struct{ rest string }

func (e *eventReader) Read(p []byte) (int, error) {
	if e.rest == "" {
		return 0, io.EOF
	}
	i := strings.Index(e.rest, "\n\n")
	if i < 0 {
		i = len(e.rest)
	} else {
		i += 2
	}
	n := copy(p, e.rest[:i])
	e.rest = e.rest[n:]
	return n, nil
}

// A quiet stream that bursts gets the big buffer back, and a released
// reader holds no buffer.
func TestSSEReaderQuietThenBurst(t *testing.T) {
	t.Parallel()
	chunk := `data: {"choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null}]}` + "\n\n"
	quiet := &eventReader{rest: strings.Repeat(chunk, 10)}
	burst := strings.NewReader(strings.Repeat(chunk, 60))
	r := NewSSEReader(io.MultiReader(quiet, burst), 64<<10)
	for i := range 10 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		// The big buffer goes back at the read after the first small
		// one: 2,000 streams opened at once hold 2,000 small buffers,
		// not 2,000 big ones waiting for the garbage collector.
		if i >= 1 && len(r.buf) != sseBufferSize {
			t.Fatalf("quiet stream, event %d: buffer %d, want %d", i, len(r.buf), sseBufferSize)
		}
	}
	for range 30 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.buf) != sseBurstSize {
		t.Errorf("after a burst: buffer %d, want %d", len(r.buf), sseBurstSize)
	}
	r.Release()
	if r.buf != nil {
		t.Errorf("released reader still holds its buffer")
	}
}

// EventBuffered finds a blank line ("\n\n" or "\n\r\n") in what is
// buffered, stopping at the first (issue 22: it searched the whole burst
// twice per event).
func TestEventBuffered(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "\n", "\n\n", "\nx", "x\n", "x\n\n", "x\r\n", "x\r\n\r\n", "x\n\r", "x\n\r\n", "a\nb\nc\n",
		"a\nb\n\nc", "data: x\ny\r\n\r\n", ":\n\n", "\r\n", "\n\r\n", "a\n\rb\n"} {
		r := NewSSEReader(strings.NewReader(""), 1<<10)
		r.end = copy(r.buf, s)
		want := strings.Contains(s, "\n\n") || strings.Contains(s, "\n\r\n")
		if got := r.EventBuffered(); got != want {
			t.Errorf("EventBuffered with %q buffered = %v, want %v", s, got, want)
		}
	}
}
