package openai

import (
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

// FuzzParse checks that request decoding never panics and that every
// rejection is a 400 in OpenAI's shape.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`), uint8(0))
	f.Add([]byte(`{"model":"m","prompt":"a","suffix":"b"}`), uint8(2))
	f.Add([]byte(`{"model":"m","input":["a"]}`), uint8(3))
	f.Add([]byte(`{"model":"m","MODEL":"x","stream":true,"stream_options":{"include_usage":1,"Include_usage":2},"messages":[{"role":"user","ROLE":"x"}]}`), uint8(0))
	f.Add([]byte(`{"thinking":{"type":1,"tyPe":2},"chat_template_kwargs":{"a":1,"A":2},"\u017ftream":1}`), uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, e uint8) {
		_, err := Parse(Endpoint(e%4), body)
		if err == nil {
			return
		}
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != 400 {
			t.Fatalf("err = %v", err)
		}
	})
}

// Issue 22: a reader is held per open stream, so its buffer stays small
// for chat-sized chunks and grows only for a long line, whatever the
// pieces its input arrives in.
func TestSSEReaderBufferSizedToNeed(t *testing.T) {
	t.Parallel()
	chunk := `data: {"choices":[{"index":0,"delta":{"content":"tok"},"finish_reason":null}]}` + "\n\n"
	in := strings.Repeat(chunk, 500) + "data: " + strings.Repeat("y", 5000) + "\n\n" + chunk
	for _, name := range []string{"whole", "one byte per read"} {
		var src io.Reader = strings.NewReader(in)
		if name != "whole" {
			src = iotest.OneByteReader(src)
		}
		r := NewSSEReader(src, 8<<10)
		for i := range 500 {
			ev, err := r.Next()
			if err != nil || string(ev.Data) != chunk[len("data: "):len(chunk)-2] {
				t.Fatalf("%s: event %d: %q %v", name, i, ev.Data, err)
			}
		}
		if len(r.buf) != sseBufferSize {
			t.Errorf("%s: buffer grew to %d for small events", name, len(r.buf))
		}
		if ev, err := r.Next(); err != nil || len(ev.Data) != 5000 {
			t.Fatalf("%s: long event: %d bytes, %v", name, len(ev.Data), err)
		}
		if ev, err := r.Next(); err != nil || !strings.Contains(string(ev.Data), "tok") {
			t.Fatalf("%s: after the long event: %q %v", name, ev.Data, err)
		}
		if _, err := r.Next(); err != io.EOF {
			t.Errorf("%s: end: %v", name, err)
		}
	}
}
