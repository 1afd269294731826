package openai

import (
	"bytes"
	"errors"
	"io"
	"sync"
)

// Event is one server-sent event as the gateway sees it: either a comment
// (": keep-alive") or a data payload. Multi-line data fields are joined with
// "\n" as the SSE spec says.
type Event struct {
	Comment bool
	Data    []byte
}

// Done reports whether the event is OpenAI's stream terminator.
func (e Event) Done() bool { return !e.Comment && bytes.Equal(e.Data, doneData) }

var doneData = []byte("[DONE]")

// ErrLineTooLong is returned for an SSE line longer than the reader's limit.
var ErrLineTooLong = errors.New("sse: line too long")

// SSEReader parses a text/event-stream. It is not safe for concurrent use.
//
// A gateway holds one reader per open stream, so its buffer is sized to
// the stream. It starts at sseBurstSize, taken from a pool: a quick
// answer arrives in bursts, and a buffer that holds a burst lets
// EventBuffered see the events after the first, so writers flush a burst
// once instead of once per read. A read that brings a chunk or two with
// nothing left over (a token-by-token stream, idle most of its life)
// moves the stream to a small buffer and gives the big one back at once,
// so the next stream to start reuses it; a burst later moves it back.
// A line that does not fit grows the buffer up to the line limit. Release
// returns a pooled buffer when the stream ends.
type SSEReader struct {
	r          io.Reader
	buf        []byte // buf[start:end] is read and not yet consumed
	start, end int
	burst      bool  // the last read filled the buffer
	small      bool  // the last read brought less than a quarter of a big buffer
	err        error // the reader's error, returned once the buffer is used up
	maxLine    int
	data       []byte
}

const (
	sseBufferSize = 1 << 10 // a quiet stream's buffer: one or two chat chunks
	sseBurstSize  = 4 << 10 // a new reader's, and a bursting one's (a long line grows it further)
)

// burstBuffers are the sseBurstSize buffers of readers: every buffer of
// exactly that size comes from here (smaller line limits get smaller
// buffers, longer lines bigger ones).
var burstBuffers = sync.Pool{New: func() any { return new([sseBurstSize]byte) }}

// NewSSEReader reads events from r; lines longer than maxLine bytes fail
// the stream with ErrLineTooLong instead of growing memory without bound.
func NewSSEReader(r io.Reader, maxLine int) *SSEReader {
	s := &SSEReader{r: r, maxLine: maxLine}
	if maxLine+2 < sseBurstSize {
		s.buf = make([]byte, max(maxLine+2, 64))
	} else {
		s.buf = burstBuffers.Get().(*[sseBurstSize]byte)[:]
	}
	return s
}

// Release gives a pooled buffer back. Neither the reader nor the data of
// an event it returned may be used after.
func (s *SSEReader) Release() {
	s.dropBuffer()
	s.buf, s.start, s.end = nil, 0, 0
}

func (s *SSEReader) dropBuffer() {
	if len(s.buf) == sseBurstSize {
		burstBuffers.Put((*[sseBurstSize]byte)(s.buf))
	}
}

// Ended reports whether the input has ended: its reader returned io.EOF,
// so what follows the buffered bytes is known to be nothing. An HTTP
// body's end that came with the last event (the usual case) is already
// read this way.
func (s *SSEReader) Ended() bool { return s.err == io.EOF }

// EventBuffered reports whether a whole event is already buffered, so the
// next Next will not block. Writers use it to flush only before they would
// wait, which batches the events of a burst into one write.
// It stops at the first blank line: looking for "\n\n" and then
// "\n\r\n" in the whole buffer read all of a burst twice per event.
func (s *SSEReader) EventBuffered() bool {
	b := s.buf[s.start:s.end]
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return false
		}
		b = b[i+1:]
		if len(b) > 0 && b[0] == '\n' || len(b) > 1 && b[0] == '\r' && b[1] == '\n' {
			return true
		}
	}
}

// Next returns the next event. The returned Data is only valid until the
// following call. At the end of the stream it returns io.EOF; a stream that
// ends in the middle of an event returns io.ErrUnexpectedEOF.
func (s *SSEReader) Next() (Event, error) {
	s.data = s.data[:0]
	hasData := false
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && hasData {
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		if len(line) == 0 { // blank line: dispatch
			if hasData {
				return Event{Data: s.data}, nil
			}
			continue
		}
		if line[0] == ':' {
			if hasData { // a comment inside an event is ignored
				continue
			}
			return Event{Comment: true, Data: line}, nil
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		if string(field) != "data" {
			continue // event:, id:, retry: carry nothing the gateway uses
		}
		if hasData {
			s.data = append(s.data, '\n')
		}
		s.data = append(s.data, value...)
		hasData = true
	}
}

// readLine returns one line without its terminator (\n, \r\n). The slice
// aliases the reader's buffer and is valid until the next call.
func (s *SSEReader) readLine() ([]byte, error) {
	scanned := 0 // bytes of buf[start:end] known to hold no newline
	for {
		if i := bytes.IndexByte(s.buf[s.start+scanned:s.end], '\n'); i >= 0 {
			line := s.buf[s.start : s.start+scanned+i]
			s.start += scanned + i + 1
			if len(line) > s.maxLine {
				return nil, ErrLineTooLong
			}
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, nil
		}
		scanned = s.end - s.start
		if scanned > s.maxLine {
			return nil, ErrLineTooLong
		}
		if s.err != nil {
			if s.err == io.EOF && scanned > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, s.err
		}
		s.fill()
	}
}

// fill reads more input after what is buffered, first moving the unread
// bytes to the front of the buffer, and resizing it: bigger when the
// unread bytes fill it (a long line) or the last read was a burst,
// smaller when the last read was small and nothing is left unread.
func (s *SSEReader) fill() {
	if s.start > 0 {
		s.end = copy(s.buf, s.buf[s.start:s.end])
		s.start = 0
	}
	switch {
	case s.end == len(s.buf) && len(s.buf) < s.maxLine+2:
		s.resize(min(max(2*len(s.buf), sseBurstSize), s.maxLine+2))
	case s.burst && len(s.buf) < sseBurstSize && sseBurstSize <= s.maxLine+2:
		s.resize(sseBurstSize)
	case s.small && s.end == 0 && len(s.buf) > sseBufferSize:
		s.resize(sseBufferSize)
	}
	for range 100 { // a reader that returns nothing 100 times is broken
		n, err := s.r.Read(s.buf[s.end:])
		s.end += n
		s.burst = s.end == len(s.buf)
		s.small = n < sseBurstSize/4
		if err != nil {
			s.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	s.err = io.ErrNoProgress
}

// resize moves the buffered bytes to a buffer of n bytes (from the pool
// when n is sseBurstSize), giving a pooled one back.
func (s *SSEReader) resize(n int) {
	var b []byte
	if n == sseBurstSize {
		b = burstBuffers.Get().(*[sseBurstSize]byte)[:]
	} else {
		b = make([]byte, n)
	}
	copy(b, s.buf[:s.end])
	s.dropBuffer()
	s.buf = b
}

// AppendEvent appends the wire form of a data event: "data: <payload>\n\n".
func AppendEvent(dst, payload []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, payload...)
	return append(dst, '\n', '\n')
}
