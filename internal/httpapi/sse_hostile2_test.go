package httpapi

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Hostile trial of sseSink holding the events between two flushes (and
// past heldEvents writing them at once), of end, and of hold/answerBuf.
// The reference is the sink before: every event written as it came, in
// one write each, so the bytes the client gets are the events in order.

var errGoneHostile2 = errors.New("client gone")

// h2Writer is a ResponseWriter that keeps every write, counts flushes and
// header writes, and fails its writes (and flushes) from failAt on.
type h2Writer struct {
	hdr      http.Header
	code     int
	headers  int
	body     bytes.Buffer
	writes   []int // the length of each write
	flushes  int
	failAt   int // the write from which Write fails (0: never)
	failing  bool
	inFlush  bool
	outFlush []int // lengths of the writes made outside a Flush or end
}

func newH2Writer() *h2Writer { return &h2Writer{hdr: http.Header{}} }

func (w *h2Writer) Header() http.Header { return w.hdr }

func (w *h2Writer) WriteHeader(code int) {
	w.headers++
	if w.code == 0 {
		w.code = code
	}
}

func (w *h2Writer) Write(b []byte) (int, error) {
	if w.failAt > 0 && len(w.writes)+1 >= w.failAt {
		w.failing = true
	}
	w.writes = append(w.writes, len(b))
	if !w.inFlush {
		w.outFlush = append(w.outFlush, len(b))
	}
	if w.failing {
		return 0, errGoneHostile2
	}
	return w.body.Write(b)
}

func (w *h2Writer) FlushError() error {
	w.flushes++
	if w.failing {
		return errGoneHostile2
	}
	return nil
}

// sinkOp is one call on a sink, and the bytes the sink before wrote for it.
type sinkOp struct {
	kind    byte // 'd' Data, 'c' Comment, 'n' named, 'f' Flush, 'e' event, 'x' end
	name    string
	payload []byte
}

func (op sinkOp) String() string {
	return fmt.Sprintf("%c(%q, %d bytes)", op.kind, op.name, len(op.payload))
}

// sinkModel is the sink before the change: the bytes each call wrote.
type sinkModel struct {
	out     bytes.Buffer
	started bool
	hash    hash.Hash
}

func (m *sinkModel) apply(op sinkOp) {
	switch op.kind {
	case 'd':
		m.started = true
		m.out.WriteString("data: ")
		m.out.Write(op.payload)
		m.out.WriteString("\n\n")
		m.hash.Write(op.payload)
		m.hash.Write([]byte("\n"))
	case 'c':
		m.started = true
		m.out.Write(op.payload)
		m.out.WriteString("\n\n")
	case 'n':
		m.started = true
		m.out.WriteString("event: " + op.name + "\ndata: ")
		m.out.Write(op.payload)
		m.out.WriteString("\n\n")
		m.hash.Write(op.payload)
		m.hash.Write([]byte("\n"))
	case 'e':
		if m.started {
			m.out.WriteString("data: ")
			m.out.Write(op.payload)
			m.out.WriteString("\n\n")
		}
	}
}

// payloadHostile2 is a payload of n bytes; each differs, so that a
// duplicate or a swap shows.
func payloadHostile2(i, n int) []byte {
	p := []byte(fmt.Sprintf(`{"i":%d,"t":"`, i))
	for len(p) < n-2 {
		p = append(p, 'a'+byte(len(p)%26))
	}
	return append(p, `"}`...)
}

// runSinkOps runs ops on a sink (digest on) writing to w, checking after
// each call what the client has against the model: a prefix of the
// events, less than heldEvents behind, all of it after a flush; a write
// outside a flush or end only past heldEvents; and the digest at the end.
func runSinkOps(t *testing.T, w *h2Writer, ops []sinkOp) {
	t.Helper()
	s := &sseSink{w: w, digest: true}
	m := &sinkModel{hash: sha256.New()}
	defer s.release()
	for k, op := range ops {
		var err error
		w.inFlush = op.kind == 'f' || op.kind == 'e' || op.kind == 'x'
		switch op.kind {
		case 'd':
			err = s.Data(op.payload)
		case 'c':
			err = s.Comment(op.payload)
		case 'n':
			err = s.named(op.name, op.payload)
		case 'f':
			err = s.Flush()
		case 'e':
			s.event(op.payload)
		case 'x':
			s.end()
		}
		w.inFlush = false
		m.apply(op)
		if w.failing {
			// Past the writer's failure the client has a prefix, and the
			// sink reports the failure at the latest at the next flush.
			if op.kind == 'f' && err == nil {
				t.Fatalf("op %d %v: Flush on a failed writer returned nil", k, op)
			}
			if !bytes.HasPrefix(m.out.Bytes(), w.body.Bytes()) {
				t.Fatalf("op %d %v: the client has bytes that are not the events'", k, op)
			}
			continue
		}
		if err != nil {
			t.Fatalf("op %d %v: %v", k, op, err)
		}
		got, want := w.body.Bytes(), m.out.Bytes()
		if !bytes.HasPrefix(want, got) {
			t.Fatalf("op %d %v: the client got %d bytes that are not a prefix of the %d the sink was given:\n got ...%q\nwant ...%q",
				k, op, len(got), len(want), tailHostile2(got), tailHostile2(want))
		}
		if held := len(want) - len(got); held >= heldEvents {
			t.Fatalf("op %d %v: %d bytes held, want fewer than %d", k, op, held, heldEvents)
		}
		if (op.kind == 'f' || op.kind == 'e' && m.started || op.kind == 'x') && len(got) != len(want) {
			t.Fatalf("op %d %v: %d bytes of %d written after it", k, op, len(got), len(want))
		}
		if (op.kind == 'f' || op.kind == 'e' && m.started) && s.buf != nil {
			t.Fatalf("op %d %v: the sink holds its buffer after a flush", k, op)
		}
	}
	for _, n := range w.outFlush {
		if n < heldEvents {
			t.Fatalf("a write of %d bytes outside a flush (below heldEvents %d)", n, heldEvents)
		}
	}
	if !w.failing {
		s.end()
		if got, want := w.body.String(), m.out.String(); got != want && !w.failing {
			t.Fatalf("after end the client has %d bytes, the events are %d:\n got ...%q\nwant ...%q", len(got), len(want), tailHostile2([]byte(got)), tailHostile2([]byte(want)))
		}
	}
	if m.started {
		if w.headers != 1 || w.code != http.StatusOK || w.hdr.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("headers written %d times, status %d, content type %q", w.headers, w.code, w.hdr.Get("Content-Type"))
		}
		if s.hash == nil || !bytes.Equal(s.hash.Sum(nil), m.hash.Sum(nil)) {
			t.Fatalf("digest is not the digest of the payloads written")
		}
	} else if w.headers != 0 || w.body.Len() != 0 {
		t.Fatalf("a sink given no event wrote headers (%d) or %d bytes", w.headers, w.body.Len())
	}
}

func tailHostile2(b []byte) []byte { return b[max(0, len(b)-60):] }

var sizesHostile2 = []int{0, 1, 16, 100, 2000, 2048, 5000, heldEvents - 8, heldEvents - 1, heldEvents, heldEvents + 1, 40000, 70000}

// randomOpsHostile2 is a random sequence of sink calls.
func randomOpsHostile2(r *rand.Rand, n int) []sinkOp {
	ops := make([]sinkOp, 0, n)
	for i := range n {
		var op sinkOp
		size := sizesHostile2[r.IntN(len(sizesHostile2))]
		if r.IntN(3) > 0 {
			size = r.IntN(3000)
		}
		switch k := r.IntN(20); {
		case k < 9:
			op = sinkOp{kind: 'd', payload: payloadHostile2(i, size)}
		case k < 12:
			op = sinkOp{kind: 'n', name: fmt.Sprintf("ev%d", i), payload: payloadHostile2(i, size)}
		case k < 14:
			op = sinkOp{kind: 'c', payload: []byte(": keep-alive " + fmt.Sprint(i))}
		case k < 18:
			op = sinkOp{kind: 'f'}
		case k < 19:
			op = sinkOp{kind: 'e', payload: []byte(`{"error":{"message":"e` + fmt.Sprint(i) + `"}}`)}
		default:
			op = sinkOp{kind: 'x'}
		}
		ops = append(ops, op)
	}
	return ops
}

// Random sequences of events, comments, flushes, error events and ends,
// small and past heldEvents.
func TestSinkRandomOpsHostile2(t *testing.T) {
	r := rand.New(rand.NewPCG(22, 16))
	for range 150 {
		runSinkOps(t, newH2Writer(), randomOpsHostile2(r, 1+r.IntN(60)))
	}
}

// The shapes the brief asks for, one by one.
func TestSinkShapesHostile2(t *testing.T) {
	d := func(i, n int) sinkOp { return sinkOp{kind: 'd', payload: payloadHostile2(i, n)} }
	f, x := sinkOp{kind: 'f'}, sinkOp{kind: 'x'}
	ping := sinkOp{kind: 'c', payload: []byte(": keep-alive")}
	errEv := sinkOp{kind: 'e', payload: []byte(`{"error":{"message":"upstream cut","type":"server_error"}}`)}
	many := func(n, size int) []sinkOp {
		var ops []sinkOp
		for i := range n {
			ops = append(ops, d(i, size))
		}
		return ops
	}
	cat := func(parts ...[]sinkOp) []sinkOp {
		var all []sinkOp
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	for name, ops := range map[string][]sinkOp{
		"error mid-stream after held events":  cat(many(5, 50), []sinkOp{errEv}),
		"error after a flush and held events": cat(many(3, 50), []sinkOp{f}, many(4, 70), []sinkOp{errEv, x}),
		"over 16 KiB held, then an error":     cat(many(40, 1000), []sinkOp{errEv}),
		"exactly heldEvents":                  {d(0, heldEvents-len("data: \n\n")), d(1, 10), x},
		"one byte under heldEvents":           {d(0, heldEvents-len("data: \n\n")-1), d(1, 10), f, x},
		"one event above 64 KiB (not pooled)": {d(0, 70000), d(1, 5), f, d(2, 5), x},
		"comments between events":             {ping, d(0, 5), ping, ping, d(1, 5), f, ping, x},
		"only a comment, then end":            {ping, x},
		"ended without a flush":               cat(many(10, 300), []sinkOp{x}),
		"end twice, flush after end":          cat(many(2, 30), []sinkOp{x, x, f, d(9, 9), f, x}),
		"error event before any event":        {errEv, f, x},
		"named events and data":               {{kind: 'n', name: "message_start", payload: []byte(`{"type":"message_start"}`)}, d(0, 3), {kind: 'n', name: "ping", payload: []byte(`{}`)}, f},
		"empty payloads":                      {d(0, 0), {kind: 'c', payload: nil}, {kind: 'n', name: "", payload: nil}, x},
		"flush with nothing held, repeatedly": {f, f, d(0, 1), f, f, x},
		"a long burst crossing heldEvents 4x": cat(many(70, 1000), []sinkOp{f}),
		"an event crossing heldEvents by far": {d(0, 10), d(1, 3*heldEvents), d(2, 10), x},
	} {
		t.Run(name, func(t *testing.T) { runSinkOps(t, newH2Writer(), ops) })
	}
}

// A client that has gone away: writes fail. The sink must say so at the
// flush (the gateway stops on it) or at once past heldEvents, and must not
// write the events it had before the failure a second time.
func TestSinkClientGoneHostile2(t *testing.T) {
	for failAt := 1; failAt <= 4; failAt++ {
		w := newH2Writer()
		w.failAt = failAt
		s := &sseSink{w: w}
		var firstErr error
		for i := range 10 {
			if err := s.Data(payloadHostile2(i, 100)); err != nil && firstErr == nil {
				firstErr = err
			}
			if err := s.Flush(); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		s.end()
		s.release()
		if !errors.Is(firstErr, errGoneHostile2) {
			t.Errorf("failAt %d: the sink reported %v, want the writer's error", failAt, firstErr)
		}
		// What reached the client before the failure, each once, in order.
		var want bytes.Buffer
		for i := range failAt - 1 {
			want.WriteString("data: " + string(payloadHostile2(i, 100)) + "\n\n")
		}
		if got := w.body.String(); got != want.String() {
			t.Errorf("failAt %d: client has %q, want %q", failAt, got, want.String())
		}
	}
	// Past heldEvents without a flush: Data itself reports it.
	w := newH2Writer()
	w.failAt = 1
	s := &sseSink{w: w}
	var err error
	for i := 0; err == nil && i < 100; i++ {
		err = s.Data(payloadHostile2(i, 1000))
	}
	s.release()
	if !errors.Is(err, errGoneHostile2) {
		t.Errorf("100 KB of events to a gone client without a flush: %v", err)
	}
	// A comment too.
	w = newH2Writer()
	w.failAt = 1
	s = &sseSink{w: w}
	err = nil
	for i := 0; err == nil && i < 3000; i++ {
		err = s.Comment([]byte(": keep-alive"))
	}
	s.release()
	if !errors.Is(err, errGoneHostile2) {
		t.Errorf("comments to a gone client without a flush: %v", err)
	}
}

// A translated non-streaming answer built in the event buffer (answerBuf)
// and held there (hold): end writes nothing of it, and the buffer given
// back and taken by the next sink starts empty.
func TestSinkAnswerBufHostile2(t *testing.T) {
	for _, n := range []int{0, 10, 2047, 2048, 2049, heldEvents, 70000} {
		w := newH2Writer()
		s := &sseSink{w: w}
		out := append(s.answerBuf(), payloadHostile2(n, n)...)
		s.hold(out)
		answer := string(out)
		w.Write(out) // writeAnswer
		s.end()
		if got := w.body.String(); got != answer {
			t.Fatalf("%d-byte answer: the client got %d bytes (end wrote held bytes?)", n, len(got))
		}
		s.release()
		// The next request's sink, likely with the same buffer.
		w2 := newH2Writer()
		s2 := &sseSink{w: w2}
		if b := s2.eventBuf(); len(b) != 0 {
			t.Fatalf("after a %d-byte answer the next sink's buffer holds %d bytes", n, len(b))
		}
		if err := s2.Data([]byte(`{"x":1}`)); err != nil {
			t.Fatal(err)
		}
		s2.end()
		s2.release()
		if got := w2.body.String(); got != "data: {\"x\":1}\n\n" {
			t.Fatalf("after a %d-byte answer the next stream wrote %q", n, got)
		}
	}
	// hold(nil), and hold without a buffer taken: nothing written, no panic.
	w := newH2Writer()
	s := &sseSink{w: w}
	s.hold(nil)
	s.hold([]byte("x"))
	s.end()
	s.release()
	if w.body.Len() != 0 || len(w.writes) != 0 {
		t.Fatalf("hold without answerBuf wrote %q", w.body.String())
	}
}

// The frame's sink through a statusWriter: a handler that streams events
// and returns without a flush (a stream that ended with [DONE]) has them
// written by the frame; one that panics after events has them before the
// error event; one that errors after events (the route's failAs) the
// same. The recorder stands for net/http's writer.
func TestFrameWritesHeldEventsHostile2(t *testing.T) {
	events := []string{`{"choices":[{"delta":{"content":"a"}}]}`, `{"choices":[{"delta":{"content":"b"}}]}`}
	want := "data: " + events[0] + "\n\n" + "data: " + events[1] + "\n\n"
	for _, end := range []string{"return", "panic", "fail"} {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := sinkFor(w)
			for _, e := range events {
				if err := s.Data([]byte(e)); err != nil {
					t.Error(err)
				}
			}
			switch end {
			case "panic":
				panic("backend broke")
			case "fail":
				fail(w, r, errors.New("upstream cut"))
			}
		})
		o := &Options{Logger: discardLoggerHostile2()}
		rec := httptest.NewRecorder()
		frame(h, o).ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader("{}")))
		got := rec.Body.String()
		if end == "return" {
			if got != want {
				t.Errorf("%s: client got %q, want %q", end, got, want)
			}
			continue
		}
		rest, ok := strings.CutPrefix(got, want)
		if !ok || !strings.HasPrefix(rest, "data: {\"error\":") || strings.Count(rest, "\n\n") != 1 || !strings.HasSuffix(rest, "\n\n") {
			t.Errorf("%s: client got %q, want the events then one error event", end, got)
		}
	}
}

func discardLoggerHostile2() *slog.Logger { return slog.New(slog.DiscardHandler) }

// FuzzSinkOpsHostile2 runs a sequence of sink calls read from the input
// (two bytes a call: its kind and its size), with the writer failing from
// a write the input names, through runSinkOps' checks.
func FuzzSinkOpsHostile2(f *testing.F) {
	f.Add([]byte{0, 10, 0, 200, 3, 0, 1, 0, 0, 255, 4, 9}, uint8(0))
	f.Add([]byte{0, 255, 0, 255, 0, 255, 0, 255, 5, 0}, uint8(3))
	f.Add([]byte{2, 1, 0, 1, 2, 1, 3, 0, 5, 0, 5, 0}, uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, failAt uint8) {
		var ops []sinkOp
		for i := 0; i+1 < len(in) && len(ops) < 200; i += 2 {
			size := int(in[i+1]) * 97 // to 24.7 KB, past heldEvents
			switch in[i] % 6 {
			case 0:
				ops = append(ops, sinkOp{kind: 'd', payload: payloadHostile2(i, size)})
			case 1:
				ops = append(ops, sinkOp{kind: 'n', name: fmt.Sprintf("e%d", in[i+1]), payload: payloadHostile2(i, size)})
			case 2:
				ops = append(ops, sinkOp{kind: 'c', payload: []byte(": " + strings.Repeat("k", int(in[i+1])))})
			case 3:
				ops = append(ops, sinkOp{kind: 'f'})
			case 4:
				ops = append(ops, sinkOp{kind: 'e', payload: []byte(`{"error":{"n":` + fmt.Sprint(in[i+1]) + `}}`)})
			case 5:
				ops = append(ops, sinkOp{kind: 'x'})
			}
		}
		w := newH2Writer()
		w.failAt = int(failAt % 8)
		runSinkOps(t, w, ops)
	})
}
