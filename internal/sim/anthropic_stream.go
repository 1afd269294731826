package sim

import (
	"strconv"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// messageStream writes one Messages API event stream, paced and faulted
// like chat streams (streamer.token before each token event).
type messageStream struct {
	c      *call
	st     *streamer
	buf    []byte
	tokens int // token events written
}

// event writes "event: name\ndata: data\n\n" and flushes.
func (m *messageStream) event(name string, data []byte) error {
	b := append(m.buf[:0], "event: "...)
	b = append(b, name...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	b = append(b, '\n', '\n')
	m.buf = b
	if _, err := m.c.w.Write(b); err != nil {
		return err
	}
	m.c.flush()
	return nil
}

// delta writes one token-carrying content_block_delta of block index.
func (m *messageStream) delta(index int, inner []byte) error {
	if err := m.st.token(); err != nil {
		return err
	}
	b := append(make([]byte, 0, 96+len(inner)), `{"type":"content_block_delta","index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(append(b, `,"delta":`...), inner...)
	if err := m.event("content_block_delta", append(b, '}')); err != nil {
		return err
	}
	m.tokens++
	return nil
}

func (m *messageStream) blockStart(index int, block []byte) error {
	b := append(make([]byte, 0, 64+len(block)), `{"type":"content_block_start","index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	b = append(append(b, `,"content_block":`...), block...)
	return m.event("content_block_start", append(b, '}'))
}

func (m *messageStream) blockStop(index int) error {
	b := strconv.AppendInt([]byte(`{"type":"content_block_stop","index":`), int64(index), 10)
	return m.event("content_block_stop", append(b, '}'))
}

func (s *Server) streamMessage(c *call, a *anthropicAnswer) {
	c.startStream()
	if err := s.acquire(c); err != nil {
		return
	}
	defer s.release(c)
	if err := c.wait(c.delay); err != nil {
		return
	}
	m := &messageStream{c: c, st: newStreamer(c, nil)}
	defer m.st.stop()
	defer func() { s.countTokens(c.m, a.plan.usage.prompt, m.tokens) }()
	_ = m.run(a)
}

// run sends the events of a: message_start, ping, the thinking block, the
// text or tool_use block, message_delta with the final usage, and
// message_stop.
func (m *messageStream) run(a *anthropicAnswer) error {
	start := append([]byte(`{"type":"message_start","message":`), a.appendHead(nil)...)
	start = append(start, `],"stop_reason":null,"stop_sequence":null,"usage":`...)
	start = append(a.appendUsage(start, 0), '}', '}')
	if err := m.event("message_start", start); err != nil {
		return err
	}
	if err := m.event("ping", []byte(`{"type":"ping"}`)); err != nil {
		return err
	}
	index := 0
	if a.plan.reasoning {
		if err := m.thinking(a, index); err != nil {
			return err
		}
		index++
	}
	var err error
	if t := a.choice().tool; t != nil {
		err = m.toolUse(t, index)
	} else {
		err = m.text(a.choice(), index)
	}
	if err != nil {
		return err
	}
	d := append([]byte(`{"type":"message_delta","delta":{"stop_reason":"`), a.stopReason()...)
	d = append(d, `","stop_sequence":null},"usage":`...)
	d = a.appendUsage(d, a.plan.usage.completion)
	if err := m.event("message_delta", append(d, '}')); err != nil {
		return err
	}
	return m.event("message_stop", []byte(`{"type":"message_stop"}`))
}

func (m *messageStream) thinking(a *anthropicAnswer, index int) error {
	if err := m.blockStart(index, []byte(`{"type":"thinking","thinking":"","signature":""}`)); err != nil {
		return err
	}
	r := rng{state: a.choice().seed ^ reasoningSalt}
	for range a.choice().reasoning {
		d := appendWords([]byte(`{"type":"thinking_delta","thinking":"`), &r, 1)
		if err := m.delta(index, append(d, '"', '}')); err != nil {
			return err
		}
	}
	sig := append(append([]byte(`{"type":"signature_delta","signature":`), a.signature()...), '"', '}')
	b := strconv.AppendInt([]byte(`{"type":"content_block_delta","index":`), int64(index), 10)
	b = append(append(append(b, `,"delta":`...), sig...), '}')
	if err := m.event("content_block_delta", b); err != nil {
		return err
	}
	return m.blockStop(index)
}

func (m *messageStream) text(ch *choicePlan, index int) error {
	if err := m.blockStart(index, []byte(`{"type":"text","text":""}`)); err != nil {
		return err
	}
	if ch.explicit {
		for text := ch.text; len(text) > 0; {
			n := pieceLen(text)
			d := jsonenc.AppendString([]byte(`{"type":"text_delta","text":`), text[:n])
			if err := m.delta(index, append(d, '}')); err != nil {
				return err
			}
			text = text[n:]
		}
	} else {
		r := rng{state: ch.seed}
		for range ch.content {
			d := appendWords([]byte(`{"type":"text_delta","text":"`), &r, 1)
			if err := m.delta(index, append(d, '"', '}')); err != nil {
				return err
			}
		}
	}
	return m.blockStop(index)
}

func (m *messageStream) toolUse(t *toolCall, index int) error {
	b := append([]byte(`{"type":"tool_use","id":`), jsonenc.AppendString(nil, toolUseID(t))...)
	b = append(append(b, `,"name":`...), jsonenc.AppendString(nil, t.name)...)
	if err := m.blockStart(index, append(b, `,"input":{}}`...)); err != nil {
		return err
	}
	for off := 0; off < len(t.args); {
		n := argFragmentLen(t.args[off:])
		d := jsonenc.AppendString([]byte(`{"type":"input_json_delta","partial_json":`), t.args[off:off+n])
		if err := m.delta(index, append(d, '}')); err != nil {
			return err
		}
		off += n
	}
	return m.blockStop(index)
}
