package sim

import (
	"net/http"
	"strconv"
	"time"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// call is one generation request's state from admission to the last byte.
// Every endpoint follows the same steps: admit (count, maybe inject an
// error), acquire a slot, wait for the first token, then write.
type call struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	rc      *http.ResponseController
	m       *modelState
	faults  *Faults
	delay   time.Duration // TTFT plus any injected latency spike
	stream  bool
	started bool // response headers sent
	slot    bool // holds a running slot
}

// admit counts the request and applies injected errors and latency spikes.
// It returns false when it has already answered with an injected error.
func (s *Server) admit(c *call) bool {
	s.requests.Add(1)
	f := s.faults.Load()
	c.faults = f
	c.delay = s.opts.TTFT
	if f.ErrorRate <= 0 && f.LatencySpikeRate <= 0 {
		return true
	}
	seq := s.faultSeq.Add(1)
	dice := rng{state: mix64(uint64(f.Seed)) ^ seq*golden64}
	failRoll, spikeRoll := dice.float64(), dice.float64()
	if failRoll < f.ErrorRate {
		s.log.Debug("sim: injecting error", "model", c.m.name, "status", f.ErrorStatus)
		writeError(c.w, f.ErrorStatus, injectedError(f.ErrorStatus))
		return false
	}
	if spikeRoll < f.LatencySpikeRate {
		c.delay += f.LatencySpike
	}
	return true
}

// acquire takes a running slot, queueing (as waiting) when MaxRunning
// requests already run. Pair with release.
func (s *Server) acquire(c *call) error {
	if s.slots != nil {
		select {
		case s.slots <- struct{}{}:
		default:
			if err := s.queue(c); err != nil {
				return err
			}
		}
	}
	c.slot = true
	s.running.Add(1)
	c.m.running.Add(1)
	return nil
}

func (s *Server) queue(c *call) error {
	s.waiting.Add(1)
	c.m.waiting.Add(1)
	defer func() {
		s.waiting.Add(-1)
		c.m.waiting.Add(-1)
	}()
	var tick <-chan time.Time
	if ka := s.opts.KeepAliveEvery; ka > 0 {
		t := time.NewTicker(ka)
		defer t.Stop()
		tick = t.C
	}
	done := c.r.Context().Done()
	for {
		select {
		case s.slots <- struct{}{}:
			return nil
		case <-done:
			return c.r.Context().Err()
		case <-tick:
			if err := c.keepAlive(); err != nil {
				return err
			}
		}
	}
}

// release returns the slot taken by acquire; it is a no-op without one.
func (s *Server) release(c *call) {
	if !c.slot {
		return
	}
	c.slot = false
	s.running.Add(-1)
	c.m.running.Add(-1)
	if s.slots != nil {
		<-s.slots
	}
}

// countTokens adds to the Prometheus counters and Stats.
func (s *Server) countTokens(m *modelState, prompt, generated int) {
	if prompt > 0 {
		s.promptTok.Add(uint64(prompt))
		m.promptTok.Add(uint64(prompt))
	}
	if generated > 0 {
		s.genTok.Add(uint64(generated))
		m.genTok.Add(uint64(generated))
	}
}

// genTime is how long n paced tokens take after the first one.
func (s *Server) genTime(n int) time.Duration {
	if s.interval <= 0 || n <= 1 {
		return 0
	}
	return s.interval * time.Duration(n-1)
}

// wait blocks for d or until the client goes away, sending keep-alives
// every KeepAliveEvery meanwhile.
func (c *call) wait(d time.Duration) error {
	ctx := c.r.Context()
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	var tick <-chan time.Time
	if ka := c.s.opts.KeepAliveEvery; ka > 0 && d > ka {
		tk := time.NewTicker(ka)
		defer tk.Stop()
		tick = tk.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case <-tick:
			if err := c.keepAlive(); err != nil {
				return err
			}
		}
	}
}

// keepAlive sends what DeepSeek sends while a request waits: an SSE comment
// on streams, a blank line before the JSON body otherwise.
func (c *call) keepAlive() error {
	var err error
	if c.stream {
		_, err = c.w.Write([]byte(": keep-alive\n\n"))
	} else {
		c.startHeaders("application/json", -1)
		_, err = c.w.Write([]byte("\n"))
	}
	if err != nil {
		return err
	}
	c.flush()
	return nil
}

// startHeaders writes the 200 response headers once. n < 0 means the
// length is unknown.
func (c *call) startHeaders(contentType string, n int) {
	if c.started {
		return
	}
	c.started = true
	h := c.w.Header()
	h.Set("Content-Type", contentType)
	if n >= 0 {
		h.Set("Content-Length", strconv.Itoa(n))
	}
	if c.stream {
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
	}
	c.w.WriteHeader(http.StatusOK)
}

func (c *call) flush() { _ = c.rc.Flush() }

// writeJSON sends a complete non-streaming body.
func (c *call) writeJSON(b []byte) {
	c.startHeaders("application/json", len(b))
	_, _ = c.w.Write(b)
}

// startStream commits the SSE headers and flushes them, so clients see the
// response start before the first token.
func (c *call) startStream() {
	c.startHeaders("text/event-stream", -1)
	c.flush()
}

// cut closes the connection without finishing the response, the way a
// crashed upstream or a dropped link looks to a client.
func (c *call) cut() {
	c.s.log.Debug("sim: cutting stream", "model", c.m.name, "after_chunks", c.faults.CutAfterChunks)
	if c.r.ProtoMajor >= 2 {
		// HTTP/2 cannot be hijacked; ErrAbortHandler resets the stream
		// (deferred releases still run).
		panic(http.ErrAbortHandler)
	}
	conn, _, err := c.rc.Hijack()
	if err != nil {
		return // e.g. httptest.ResponseRecorder: the body just stops
	}
	_ = conn.Close()
}

// streamer writes one SSE response: events built on a reused buffer,
// token pacing, and the cut and stall faults.
type streamer struct {
	c      *call
	prefix []byte // chunk JSON up to and including `"choices":[`
	buf    []byte
	sent   int // token chunks started (cut and stall count these)
	tokens int // token chunks written
	start  time.Time
	timer  *time.Timer
}

func newStreamer(c *call, prefix []byte) *streamer {
	return &streamer{c: c, prefix: prefix, buf: make([]byte, 0, len(prefix)+256)}
}

// open starts an event with the chunk prefix; finish it with send.
func (st *streamer) open() []byte {
	b := append(st.buf[:0], "data: "...)
	return append(b, st.prefix...)
}

// send terminates the event started by open, writes and flushes it.
func (st *streamer) send(b []byte) error {
	b = append(b, '\n', '\n')
	st.buf = b
	if _, err := st.c.w.Write(b); err != nil {
		return err
	}
	st.c.flush()
	return nil
}

// sendToken is send for a chunk that carries a token.
func (st *streamer) sendToken(b []byte) error {
	if err := st.send(b); err != nil {
		return err
	}
	st.tokens++
	return nil
}

// words sends n one-token chunks, each `before word"after` (before opens
// a JSON string) closed as a choice of a chunk.
func (st *streamer) words(r *rng, n int, before, after string) error {
	for range n {
		if err := st.token(); err != nil {
			return err
		}
		b := append(st.open(), before...)
		b = appendWords(b, r, 1)
		b = append(b, '"')
		b = append(b, after...)
		if err := st.sendToken(endChunk(b, "")); err != nil {
			return err
		}
	}
	return nil
}

// pieces sends explicit text one piece per chunk, each `before "piece"
// after` closed as a choice of a chunk.
func (st *streamer) pieces(text, before, after string) error {
	for len(text) > 0 {
		if err := st.token(); err != nil {
			return err
		}
		n := pieceLen(text)
		b := append(st.open(), before...)
		b = jsonenc.AppendString(b, text[:n])
		b = append(b, after...)
		if err := st.sendToken(endChunk(b, "")); err != nil {
			return err
		}
		text = text[n:]
	}
	return nil
}

// finishChoice sends a choice's finish chunk; choice carries everything
// before logprobs.
func (st *streamer) finishChoice(choice, reason string) error {
	b := append(st.open(), choice...)
	return st.send(endChunk(b, reason))
}

// end sends the usage chunk when asked for, and data: [DONE].
func (st *streamer) end(includeUsage bool, u usage) error {
	if includeUsage {
		b := append(st.open(), `],"usage":`...)
		b = appendUsage(b, u)
		if err := st.send(append(b, '}')); err != nil {
			return err
		}
	}
	st.buf = append(st.buf[:0], "data: [DONE]\n\n"...)
	if _, err := st.c.w.Write(st.buf); err != nil {
		return err
	}
	st.c.flush()
	return nil
}

// token must be called before each token chunk: it applies the cut and
// stall faults, paces tokens, and stops when the client has gone.
func (st *streamer) token() error {
	c := st.c
	ctx := c.r.Context()
	f := c.faults
	switch {
	case f.CutAfterChunks > 0 && st.sent >= f.CutAfterChunks:
		c.cut()
		return errStreamCut
	case f.StallAfterChunks > 0 && st.sent >= f.StallAfterChunks:
		c.s.log.Debug("sim: stalling stream", "model", c.m.name, "after_chunks", f.StallAfterChunks)
		<-ctx.Done()
		return ctx.Err()
	}
	interval := c.s.interval
	switch {
	case st.sent == 0:
		st.start = time.Now()
	case interval > 0:
		if err := st.sleepUntil(st.start.Add(interval * time.Duration(st.sent))); err != nil {
			return err
		}
	default:
		select {
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
	}
	st.sent++
	return nil
}

func (st *streamer) sleepUntil(due time.Time) error {
	d := time.Until(due)
	if d <= 0 {
		return st.c.r.Context().Err()
	}
	if st.timer == nil {
		st.timer = time.NewTimer(d)
	} else {
		st.timer.Reset(d)
	}
	select {
	case <-st.c.r.Context().Done():
		st.timer.Stop()
		return st.c.r.Context().Err()
	case <-st.timer.C:
		return nil
	}
}

func (st *streamer) stop() {
	if st.timer != nil {
		st.timer.Stop()
	}
}
