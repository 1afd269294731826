//go:build !race

package upstream

import (
	"net"
	"testing"
)

// The race detector allocates, so these build without it.

// A probe before each reuse is a system call, and nothing more; with the
// request's writing and the wait for its answer it allocates nothing.
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
			b := make([]byte, 1) // (AllocsPerRun counts this goroutine's too)
			for {
				if _, err := c.Read(b); err != nil {
					return
				}
				c.Write(b)
			}
		}
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var p prober
	writes, b := 0, make([]byte, 1)
	p.init(nc, func() error { writes++; _, err := nc.Write(b); return err })
	round := func() {
		if open, err := p.probeWrite(); !open || err != nil {
			t.Fatalf("probeWrite on an open connection: open %v, %v", open, err)
		}
		if _, err := nc.Read(b); err != nil {
			t.Fatal(err)
		}
	}
	round()
	if writes != 1 {
		t.Fatalf("%d writes, want 1", writes)
	}
	if n := testing.AllocsPerRun(100, round); n != 0 {
		t.Errorf("a probe and its request allocate %v times", n)
	}
}
