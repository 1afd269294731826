// Package faultproxy is a TCP proxy for outage tests: put it between the
// code under test and a real service (Redis, PostgreSQL), then cut the
// service off, black-hole it, and restore it, without touching the
// service itself, which other tests share.
package faultproxy

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Mode is what the proxy does with connections.
type Mode int

// Modes.
const (
	// Up forwards every connection to the target.
	Up Mode = iota
	// Down closes every connection and refuses new ones at once (a
	// crashed or stopped service: connection refused, reset).
	Down
	// Blackhole keeps connections open and silent and accepts new ones
	// that never answer (a network partition: only timeouts end a call).
	Blackhole
)

// Proxy forwards 127.0.0.1:<port> to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  Mode
	conns map[net.Conn]net.Conn // client side -> service side (nil when held)
}

// Start listens on a free port and forwards to target until the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]net.Conn{}}
	go p.accept()
	t.Cleanup(func() {
		ln.Close()
		p.Set(Down)
	})
	return p
}

// Addr is the host:port to connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Set switches the mode. Down closes every connection; Blackhole cuts
// the service side of every connection and leaves the client side open
// and silent; Up closes connections held silent (their clients see the
// connection end and dial again) and forwards new ones.
func (p *Proxy) Set(m Mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode = m
	for c, s := range p.conns {
		switch {
		case m == Down || (m == Up && s == nil):
			c.Close()
			if s != nil {
				s.Close()
			}
			delete(p.conns, c)
		case m == Blackhole && s != nil:
			s.Close() // the copy goroutines stop; c stays open, unread
			p.conns[c] = nil
		}
	}
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

func (p *Proxy) serve(c net.Conn) {
	p.mu.Lock()
	mode := p.mode
	switch mode {
	case Down:
		p.mu.Unlock()
		c.Close()
		return
	case Blackhole:
		p.conns[c] = nil // held open, never answered
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.mode != Up { // switched while dialling
		p.mu.Unlock()
		s.Close()
		c.Close()
		return
	}
	p.conns[c] = s
	p.mu.Unlock()
	go p.pipe(c, s, s, c)
	p.pipe(c, s, c, s)
}

// pipe copies src to dst; when it ends, the pair is closed unless the
// proxy is holding the client side open (Blackhole).
func (p *Proxy) pipe(c, s net.Conn, dst io.Writer, src io.Reader) {
	io.Copy(dst, src)
	p.mu.Lock()
	defer p.mu.Unlock()
	if cur, ok := p.conns[c]; ok && cur == nil {
		return // held: Blackhole keeps c open
	}
	c.Close()
	s.Close()
	delete(p.conns, c)
}
