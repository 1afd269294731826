package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// h1Transport sends the requests of plain-http upstreams (the local
// engines) over HTTP/1.1 on the calling goroutine; every other request
// (https, a proxy) goes to the net/http Transport it wraps.
//
// net/http's Transport runs two goroutines per connection, a reader and a
// writer, and hands every request and answer between them and the caller.
// Measured with bench/cpu (its rawproxy target, net/http's server with a
// client like this one, against goproxy, the same server with net/http's
// client), that client is a third of a plain relay's CPU per request at
// c=64 and two goroutines and their buffers per open stream. This one
// writes the request and reads the answer where the caller runs, with
// net/http's own wire code (http.ReadResponse; the request as
// Request.Write writes it, by writeRequest for Send's), and keeps
// idle connections in a stack per host.
//
// What net/http's reader goroutine also does, noticing that the server
// closed an idle connection or sent bytes on it, is done on use instead:
// an idle connection is probed before reuse (a peek that does not wait;
// for a body in memory made in one step with the request's writing and
// the wait for its answer: prober.probeWrite), and one idle for longer
// than reuseWithin is closed rather than reused (engines close idle
// connections after 5 s: uvicorn, cpp-httplib). A failed request goes out
// again, on a new connection, only as net/http would send it again
// (resendable). A cancelled request closes its connection at once, so
// that the engine stops generating.
type h1Transport struct {
	fallback http.RoundTripper
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	// header bounds the wait for the answer's head once the request is
	// written (http.Transport's ResponseHeaderTimeout); 0: no bound.
	header time.Duration
	// maxIdle is the most idle connections kept per host.
	maxIdle int
	// reuse is how long an idle connection is trusted to be open
	// (reuseWithin).
	reuse time.Duration
	now   func() time.Time

	mu       sync.Mutex
	idle     map[string][]*h1Conn // oldest first
	sweeping bool                 // a sweep is scheduled
}

// reuseWithin is how long an idle connection is trusted to be open.
const reuseWithin = 2 * time.Second

// maxHeadBytes bounds an answer's head (status line and headers).
const maxHeadBytes = 1 << 20

func newH1Transport(fallback http.RoundTripper, dial func(ctx context.Context, network, addr string) (net.Conn, error), header time.Duration) *h1Transport {
	return &h1Transport{fallback: fallback, dial: dial, header: header, maxIdle: 512, reuse: reuseWithin,
		now: time.Now, idle: map[string][]*h1Conn{}}
}

// h1Writers are the request writers' buffers, shared by the connections:
// a connection writes its request at the start of a call and then reads
// the answer, for as long as a stream lasts (issue 22: memory per open
// stream), so its writer's kilobyte is taken only for the writing.
var h1Writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 1<<10) }}

// h1Conn is one connection. Its reader and writer count what they move,
// so that a failed request can tell whether any of it went out and any of
// the answer came.
type h1Conn struct {
	t         *h1Transport
	nc        net.Conn
	in        h1Reader
	out       h1Writer
	probe     prober
	br        *bufio.Reader
	idleSince time.Time
	reused    bool
	req       *http.Request // the request being written (writeRequest's)
	deadline  bool          // its answer's head has a read deadline
}

// writeRequest writes c.req and sets the read deadline of its answer's
// head: the header timeout from the request's end (http.Transport's
// ResponseHeaderTimeout), or, when the writing failed, the short wait for
// an answer the server sent before reading all of it.
func (c *h1Conn) writeRequest() error {
	bw := h1Writers.Get().(*bufio.Writer)
	bw.Reset(&c.out)
	werr := writeRequest(bw, c.req)
	if werr == nil {
		werr = bw.Flush()
	}
	bw.Reset(nil)
	h1Writers.Put(bw)
	deadline := time.Time{}
	switch {
	case werr != nil:
		deadline = c.t.now().Add(earlyAnswerWait)
	case c.t.header > 0:
		deadline = c.t.now().Add(c.t.header)
	}
	if c.deadline = !deadline.IsZero(); c.deadline {
		c.nc.SetReadDeadline(deadline)
	}
	return werr
}

// h1Reader reads the connection for the buffered reader: at most budget
// bytes (the head's bound while a head is read), counting them.
type h1Reader struct {
	nc     net.Conn
	budget int64
	got    int64
}

var errHeadTooLarge = errors.New("upstream answer's headers exceed 1 MiB")

// inMemory reports whether reading body never waits: none, or Send's
// bytes (prober.probeWrite is only for those).
func inMemory(body io.ReadCloser) bool {
	_, ok := body.(*sendBody)
	return ok || body == nil || body == http.NoBody
}

// errStale is send's refusal of an idle connection that its probe found
// closed, or with bytes nobody asked for; nothing was written on it.
var errStale = errors.New("idle upstream connection closed")

func (r *h1Reader) Read(p []byte) (int, error) {
	if r.budget <= 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > r.budget {
		p = p[:r.budget]
	}
	n, err := r.nc.Read(p)
	r.budget -= int64(n)
	r.got += int64(n)
	return n, err
}

// h1Writer writes the connection for the buffered writer, counting what
// the connection took.
type h1Writer struct {
	nc net.Conn
	n  int64
}

func (w *h1Writer) Write(p []byte) (int, error) {
	n, err := w.nc.Write(p)
	w.n += int64(n)
	return n, err
}

// RoundTrip implements http.RoundTripper.
func (t *h1Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" {
		return t.fallback.RoundTrip(req)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	for resend := false; ; {
		c, err := t.get(req.Context(), addr, resend)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := t.send(c, req, addr)
		if err == nil {
			return resp, nil
		}
		if err == errStale {
			continue // nothing went out: the next idle connection, or a new one
		}
		if resend || !resendable(req, c, err) {
			return nil, err
		}
		resend = true
		if req.GetBody != nil {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// resendable reports whether req, failed on c with err, goes out once
// more on a new connection: net/http's rule. The connection was reused
// (the server may have closed it as the request went out) and either none
// of the request reached it, or the request is idempotent, no byte of an
// answer came and it did not time out. A POST the server may have read
// is not sent twice: an engine that died generating it would generate it
// again.
func resendable(req *http.Request, c *h1Conn, err error) bool {
	if !c.reused || req.Context().Err() != nil || !replayable(req) {
		return false
	}
	if c.out.n == 0 {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return c.in.got == 0 && idempotent(req)
}

// replayable reports whether req can be sent again: it has no body, or
// a way to get its body anew.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// idempotent is net/http's test of a request safe to send twice.
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// earlyAnswerWait is how long a request that failed to go out waits for
// an answer the server sent before reading all of it (a 413, say), as
// net/http does.
const earlyAnswerWait = 50 * time.Millisecond

// send writes req on c and reads the answer's head. On an error c is
// closed; on errStale nothing was written. A cancelled request closes its
// connection at once, so that the engine stops generating for nobody.
func (t *h1Transport) send(c *h1Conn, req *http.Request, addr string) (*http.Response, error) {
	ctx := req.Context()
	stop := context.AfterFunc(ctx, func() { c.nc.Close() })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.nc.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	c.in.budget, c.in.got, c.out.n = maxHeadBytes, 0, 0
	c.req = req
	var werr error
	open := true
	switch {
	case !c.reused:
		werr = c.writeRequest() // a new connection: nothing to probe
	case inMemory(req.Body):
		open, werr = c.probe.probeWrite()
	case c.probe.alive(): // a body that may wait is written apart (see probeWrite)
		werr = c.writeRequest()
	default:
		open = false
	}
	c.req = nil
	if !open {
		stop()
		c.nc.Close()
		return nil, errStale
	}
	resp, err := http.ReadResponse(c.br, req)
	for err == nil && resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
		resp, err = http.ReadResponse(c.br, req) // 1xx: the answer follows
	}
	switch {
	case err != nil && werr != nil:
		return fail(werr)
	case err != nil:
		if errors.Is(err, io.EOF) && c.in.got == 0 {
			err = io.ErrUnexpectedEOF // the server closed the connection without answering
		}
		return fail(err)
	}
	c.in.budget = math.MaxInt64
	if c.deadline {
		c.nc.SetReadDeadline(time.Time{})
	}
	keep := werr == nil && !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols
	b := &h1Body{t: t, c: c, addr: addr, ctx: ctx, stop: stop, keep: keep, rc: resp.Body}
	if resp.Body == http.NoBody {
		b.finish(bodyWhole)
		return resp, nil
	}
	resp.Body = b
	return resp, nil
}

// h1Body is an answer's body. Read to its end, it gives the connection
// back for reuse; closed before that, it closes the connection. Close may
// be called while a Read runs (to abort it).
type h1Body struct {
	t     *h1Transport
	c     *h1Conn
	addr  string
	ctx   context.Context
	stop  func() bool
	keep  bool
	rc    io.ReadCloser
	state atomic.Int32 // bodyOpen, bodyWhole or bodyEnded
}

const (
	bodyOpen = iota
	bodyWhole
	bodyEnded
)

var errBodyEnded = errors.New("upstream body read after it was closed or failed")

func (b *h1Body) Read(p []byte) (int, error) {
	switch b.state.Load() {
	case bodyWhole:
		return 0, io.EOF
	case bodyEnded:
		if b.ctx.Err() != nil {
			return 0, b.ctx.Err()
		}
		return 0, errBodyEnded
	}
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF:
		b.finish(bodyWhole)
	case err != nil:
		if b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
		b.finish(bodyEnded)
	}
	return n, err
}

func (b *h1Body) Close() error {
	b.finish(bodyEnded)
	return nil
}

// finish ends the body's use of the connection once: back to the idle
// stack when the whole answer was read and both sides keep it open.
func (b *h1Body) finish(state int32) {
	if !b.state.CompareAndSwap(bodyOpen, state) {
		return
	}
	cancelled := !b.stop()
	if state != bodyWhole || !b.keep || cancelled {
		b.c.nc.Close()
		return
	}
	b.t.put(b.addr, b.c)
}

// get returns an idle connection to addr, or dials one (always when
// fresh). An idle connection is taken when it was idle for less than
// t.reuse; send then checks that nothing came on it since, as it writes
// the request: no end (the server closed it: an engine restarted, or its
// keep-alive ran out) and no bytes nobody asked for (prober.probeWrite,
// or prober.alive for a body that may wait, in h1_probe_*.go: a system
// call, as net/http's reader goroutine would have noticed the same). One
// that fails that is closed unused (errStale), and RoundTrip gets
// another.
func (t *h1Transport) get(ctx context.Context, addr string, fresh bool) (*h1Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for !fresh {
		t.mu.Lock()
		stack := t.idle[addr]
		if len(stack) == 0 {
			t.mu.Unlock()
			break
		}
		c := stack[len(stack)-1]
		t.idle[addr] = stack[:len(stack)-1]
		t.mu.Unlock()
		if t.now().Sub(c.idleSince) < t.reuse {
			c.reused = true // send probes it (errStale)
			return c, nil
		}
		c.nc.Close()
	}
	nc, err := t.dialApart(ctx, addr)
	if err != nil {
		return nil, err
	}
	c := &h1Conn{t: t, nc: nc, in: h1Reader{nc: nc, budget: math.MaxInt64}, out: h1Writer{nc: nc}}
	c.br = bufio.NewReaderSize(&c.in, 2<<10)
	c.probe.init(nc, c.writeRequest)
	return c, nil
}

// dialApart dials addr on a goroutine of its own and waits for it. A
// dial is deep (net.Dialer's frames are 2 KiB and more) and a stream's
// goroutine makes it from deep in the gateway: on that goroutine it would
// grow the stack to 16 KiB, which a stream then keeps for its whole life,
// for a dial made once (issue 22: 8 KiB of every open stream;
// TestStreamStack). The dial ends with ctx, so the wait does too.
func (t *h1Transport) dialApart(ctx context.Context, addr string) (net.Conn, error) {
	type dialed struct {
		nc  net.Conn
		err error
	}
	done := make(chan dialed, 1)
	var failed *apartPanic // a panic of the dial, raised again on the caller's goroutine
	go func() {
		defer func() {
			if p := recover(); p != nil {
				failed = &apartPanic{value: p, stack: debug.Stack()}
				done <- dialed{}
			}
		}()
		nc, err := t.dial(ctx, "tcp", addr)
		done <- dialed{nc, err}
	}()
	d := <-done
	if failed != nil {
		panic(failed)
	}
	return d.nc, d.err
}

// apartPanic is a panic of a dial made apart, raised again on the
// caller's goroutine with the stack where it happened: the request's
// recovery point logs that one (pipeline.Recovered).
type apartPanic struct {
	value any
	stack []byte
}

func (p *apartPanic) PanicValue() any    { return p.value }
func (p *apartPanic) PanicStack() []byte { return p.stack }
func (p *apartPanic) Error() string      { return fmt.Sprintf("panic: %v", p.value) }

// put keeps c for reuse; past maxIdle the oldest idle connection closes.
// A connection with bytes nobody asked for is closed instead.
func (t *h1Transport) put(addr string, c *h1Conn) {
	if c.br.Buffered() > 0 {
		c.nc.Close()
		return
	}
	t.mu.Lock()
	c.idleSince = t.now()
	stack := append(t.idle[addr], c)
	var drop *h1Conn
	if len(stack) > t.maxIdle {
		drop = stack[0]
		stack = stack[1:]
	}
	t.idle[addr] = stack
	if !t.sweeping {
		t.sweeping = true
		time.AfterFunc(t.reuse, t.sweep)
	}
	t.mu.Unlock()
	if drop != nil {
		drop.nc.Close()
	}
}

// sweep closes the connections idle for t.reuse, so that an idle gateway
// does not hold connections its engines have closed; it runs that often
// while any connection is idle.
func (t *h1Transport) sweep() {
	now := t.now()
	var old []*h1Conn
	t.mu.Lock()
	left := 0
	for addr, stack := range t.idle {
		i := 0 // the stack is oldest first
		for i < len(stack) && now.Sub(stack[i].idleSince) >= t.reuse {
			old = append(old, stack[i])
			i++
		}
		t.idle[addr] = stack[i:]
		left += len(stack) - i
	}
	t.sweeping = left > 0
	if t.sweeping {
		time.AfterFunc(t.reuse, t.sweep)
	}
	t.mu.Unlock()
	for _, c := range old {
		c.nc.Close()
	}
}

// CloseIdleConnections closes every idle connection (and the fallback's).
func (t *h1Transport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = map[string][]*h1Conn{}
	t.mu.Unlock()
	for _, stack := range idle {
		for _, c := range stack {
			c.nc.Close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
