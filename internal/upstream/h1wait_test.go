//go:build unix

package upstream

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// idleConn is the one idle connection h1 keeps to url's host.
func idleConn(t *testing.T, h1 *h1Transport, url string) *h1Conn {
	t.Helper()
	h1.mu.Lock()
	defer h1.mu.Unlock()
	stack := h1.idle[strings.TrimPrefix(url, "http://")]
	if len(stack) != 1 {
		t.Fatalf("%d idle connections, want 1", len(stack))
	}
	return stack[0]
}

// On a reused connection the answer's first read comes after the poller
// saw the answer (prober.probeWrite), not before it, where it would fail
// with EAGAIN and wait: the answer here is 20 ms late.
func TestH1ReadsTheAnswerWhenItCame(t *testing.T) {
	url, _ := rawServer(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, _, err := readRequest(br); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	h1 := newH1(5 * time.Second)
	defer h1.CloseIdleConnections()
	postOK(t, h1, url+"/", `{}`)
	if c := idleConn(t, h1, url); c.probe.ready {
		t.Fatal("a new connection's answer was waited for by probeWrite: it is not probed")
	}
	for range 3 {
		postOK(t, h1, url+"/", `{}`)
		if c := idleConn(t, h1, url); !c.probe.ready {
			t.Fatal("a reused connection's answer was read before the poller saw it")
		}
	}
}

// An answer is never missed by the wait, however soon it comes: at once
// (one after another on one connection, hundreds of times), or while the
// request is still being written (the server answers after the head and
// reads the 8 MiB body after). A missed answer would be a timeout after
// the head's bound.
func TestH1WaitMissesNoAnswer(t *testing.T) {
	url, _ := rawServer(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
		}
	})
	h1 := newH1(5 * time.Second)
	defer h1.CloseIdleConnections()
	for range 300 {
		postOK(t, h1, url+"/", `{}`)
	}
	postOK(t, h1, url+"/", strings.Repeat("x", 8<<20))
	postOK(t, h1, url+"/", `{}`)
	idleConn(t, h1, url) // all on one connection
}
