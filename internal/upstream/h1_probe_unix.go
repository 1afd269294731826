//go:build unix

package upstream

import (
	"net"
	"syscall"
)

// prober peeks at an idle connection without waiting. It is made once
// per connection, so that a probe allocates nothing.
type prober struct {
	rc   syscall.RawConn
	open bool
	b    [1]byte
	peek func(fd uintptr) bool
}

func (p *prober) init(nc net.Conn) {
	if sc, ok := nc.(syscall.Conn); ok {
		p.rc, _ = sc.SyscallConn()
	}
	p.peek = func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), p.b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		p.open = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true // do not wait
	}
}

// alive reports whether the connection is still open with nothing to
// read: no data and no end.
func (p *prober) alive() bool {
	if p.rc == nil {
		return true
	}
	p.open = false
	return p.rc.Read(p.peek) == nil && p.open
}
