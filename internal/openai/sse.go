package openai

import (
	"bufio"
	"bytes"
	"errors"
	"io"
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
type SSEReader struct {
	r       *bufio.Reader
	maxLine int
	data    []byte
}

// NewSSEReader reads events from r; lines longer than maxLine bytes fail
// the stream with ErrLineTooLong instead of growing memory without bound.
func NewSSEReader(r io.Reader, maxLine int) *SSEReader {
	// 4 KiB holds several chat chunks; longer lines take the slow path.
	return &SSEReader{r: bufio.NewReaderSize(r, 4<<10), maxLine: maxLine}
}

// EventBuffered reports whether a whole event is already buffered, so the
// next Next will not block. Writers use it to flush only before they would
// wait, which batches the events of a burst into one write.
func (s *SSEReader) EventBuffered() bool {
	b, _ := s.r.Peek(s.r.Buffered())
	return bytes.Contains(b, lf2) || bytes.Contains(b, crlf2)
}

var (
	lf2   = []byte("\n\n")
	crlf2 = []byte("\n\r\n")
)

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
// aliases the reader's buffer when the line fits in it.
func (s *SSEReader) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			if len(long) > s.maxLine {
				return nil, ErrLineTooLong
			}
			line, err = s.r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	if err != nil {
		if err == io.EOF && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if len(line) > s.maxLine {
		return nil, ErrLineTooLong
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// AppendEvent appends the wire form of a data event: "data: <payload>\n\n".
func AppendEvent(dst, payload []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, payload...)
	return append(dst, '\n', '\n')
}
