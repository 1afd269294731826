//go:build unix

package upstream

import (
	"net"
	"syscall"
)

// prober peeks at an idle connection without waiting (alive) and, for a
// request whose body is in memory, writes the request on it so that the
// answer's first read finds its bytes (probeWrite). It is made once per
// connection, so that neither allocates.
type prober struct {
	rc    syscall.RawConn
	write func() error // writes the request (h1Conn.writeRequest)
	step  func(fd uintptr) bool
	// The state of one probe: peek alone (alive), or peek, write and wait.
	b                      [1]byte
	peekOnly, probed, open bool
	ready                  bool // woken with something to read (tests)
	werr                   error
}

func (p *prober) init(nc net.Conn, write func() error) {
	p.write = write
	if sc, ok := nc.(syscall.Conn); ok {
		p.rc, _ = sc.SyscallConn()
	}
	p.step = func(fd uintptr) bool {
		if p.probed {
			p.ready = true
			return true // something to read: the reads that follow find it
		}
		p.probed = true
		_, _, err := syscall.Recvfrom(int(fd), p.b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if p.open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK; !p.open || p.peekOnly {
			return true // closed, or bytes nobody asked for: not used
		}
		p.werr = p.write()
		return p.werr != nil // a failed write does not wait (see send)
	}
}

// alive reports whether the connection is still open with nothing to
// read: no data and no end.
func (p *prober) alive() bool {
	if p.rc == nil {
		return true
	}
	p.peekOnly, p.probed, p.open = true, false, false
	return p.rc.Read(p.step) == nil && p.open
}

// probeWrite writes the request on an idle connection that is still open
// with nothing to read, and waits until the answer can be read; it
// reports open false, and writes nothing, when the connection was closed
// or had bytes nobody asked for (alive's verdict). Without the wait the
// answer's first read would come too early (the engine is still
// answering), fail with EAGAIN and then wait for the same thing: one
// system call more a request, of about seven (issue 22;
// bench/RESULTS.md).
//
// The three run inside one RawConn.Read, in this order, because
// RawConn.Read first forgets what the poller saw of the connection (its
// prepareRead): what came before that is found by the peek that follows
// it, and what comes after it (the answer, even during the write) wakes
// the wait. A wake with nothing to read (a readiness seen before, a
// deadline, a close) costs nothing: the read that follows fails or waits
// as it always did. A connection this cannot see into is written and
// taken as open.
//
// Only for a body in memory: RawConn.Read holds the descriptor while its
// function runs and Close waits for that, so a body read that waits
// (a pipe's) would hold back the close that cancels the request.
func (p *prober) probeWrite() (open bool, err error) {
	if p.rc == nil {
		return true, p.write()
	}
	p.peekOnly, p.probed, p.open, p.ready, p.werr = false, false, false, false, nil
	p.rc.Read(p.step) // an error after the write (a deadline, a close) is the reads' to find
	if !p.open {
		return false, nil // stale, or refused before the peek (closed, a poller error): as alive's
	}
	return true, p.werr
}
