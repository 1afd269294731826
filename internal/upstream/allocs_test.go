//go:build !race

package upstream

import (
	"net"
	"testing"
)

// The race detector allocates, so these build without it.

// A probe before each reuse is a system call, and nothing more.
func TestH1ProbeAllocs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			c.Read(make([]byte, 1))
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var p prober
	p.init(nc)
	if !p.alive() {
		t.Fatal("an open connection probed as closed")
	}
	if n := testing.AllocsPerRun(100, func() { p.alive() }); n != 0 {
		t.Errorf("a probe allocates %v times", n)
	}
}
