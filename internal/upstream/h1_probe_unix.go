//go:build unix

package upstream

import (
	"net"
	"syscall"
)

// prober peeks at an idle connection without waiting and writes the
// request on it so that the answer's first read finds its bytes
// (probeWrite). It is made once per connection, so that a probe
// allocates nothing.
type prober struct {
	rc    syscall.RawConn
	write func() error // writes the request (h1Conn.writeRequest)
	step  func(fd uintptr) bool
	// probeWrite's state.
	b            [1]byte
	probed, open bool
	ready        bool // woken with something to read (tests)
	werr         error
}

func (p *prober) init(nc net.Conn, write func() error) {
	p.write = write
	if sc, ok := nc.(syscall.Conn); ok {
		p.rc, _ = sc.SyscallConn()
	}
	p.step = func(fd uintptr) bool {
		switch {
		case !p.probed:
			p.probed = true
			_, _, err := syscall.Recvfrom(int(fd), p.b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if p.open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK; !p.open {
				return true // closed, or bytes nobody asked for: not used
			}
			p.werr = p.write()
			return p.werr != nil // a failed write does not wait (see send)
		default:
			p.ready = true
			return true // something to read: the reads that follow find it
		}
	}
}

// probeWrite writes the request on an idle connection that is still open
// with nothing to read, and waits until the answer can be read; it
// reports open false, and writes nothing, when the connection was closed
// or had bytes nobody asked for. Without the wait the answer's first read
// would come too early (the engine is still answering), fail with EAGAIN
// and then wait for the same thing: one system call more a request, a
// fifth of a plain relay's (issue 22; bench/RESULTS.md).
//
// The three run inside one RawConn.Read, in this order, because
// RawConn.Read first forgets what the poller saw of the connection (its
// prepareRead): what came before that is found by the peek that follows
// it, and what comes after it (the answer, even during the write) wakes
// the wait. A wake with nothing to read (a readiness seen before, a
// deadline, a close) costs nothing: the read that follows fails or waits
// as it always did. A connection this cannot see into is written and
// taken as open.
func (p *prober) probeWrite() (open bool, err error) {
	if p.rc == nil {
		return true, p.write()
	}
	p.probed, p.open, p.ready, p.werr = false, false, false, nil
	if p.rc.Read(p.step) != nil && !p.probed {
		return true, p.write() // refused before the peek (closed): write's own error
	}
	if !p.open {
		return false, nil
	}
	return true, p.werr
}
