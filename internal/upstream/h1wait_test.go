//go:build unix

package upstream

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// postSent is postOK for a request as Send makes it: its body in memory
// (a sendBody), which probeWrite writes.
func postSent(t *testing.T, rt http.RoundTripper, url, body string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := newSendBody([]byte(body))
	req.Body, req.GetBody, req.ContentLength = b, b.again, int64(len(body))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); got != "ok" {
		t.Fatalf("answer %q, want ok", got)
	}
}

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
	postSent(t, h1, url+"/", `{}`)
	if c := idleConn(t, h1, url); c.probe.ready {
		t.Fatal("a new connection's answer was waited for by probeWrite: it is not probed")
	}
	for range 3 {
		postSent(t, h1, url+"/", `{}`)
		if c := idleConn(t, h1, url); !c.probe.ready {
			t.Fatal("a reused connection's answer was read before the poller saw it")
		}
	}
	c := idleConn(t, h1, url)
	c.probe.ready = false
	postOK(t, h1, url+"/", `{}`) // a body that may wait: peeked, then written apart
	if c.probe.ready {
		t.Fatal("a body not in memory was written by probeWrite")
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
		postSent(t, h1, url+"/", `{}`)
	}
	postSent(t, h1, url+"/", strings.Repeat("x", 8<<20))
	postSent(t, h1, url+"/", `{}`)
	idleConn(t, h1, url) // all on one connection
}

// A cancelled request closes its connection at once even while its body
// waits (a pipe's): such a body is not written inside probeWrite's
// RawConn.Read, which would hold the close back until the body's read
// returned (a helper's review found it: 10 s here).
func TestH1CancelWithAWaitingBody(t *testing.T) {
	seen := make(chan error, 1)
	url, _ := rawServer(t, okOnce(func(br *bufio.Reader, c net.Conn) {
		_, err := io.Copy(io.Discard, br) // until the client's close, or okOnce's 3 s deadline
		seen <- err
	}))
	h1 := newH1(30 * time.Second)
	defer h1.CloseIdleConnections()
	postOK(t, h1, url+"/", `{}`)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { pw.Write(make([]byte, 10)) }() // then nothing: the body waits
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 100
	time.AfterFunc(100*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() {
		_, err := h1.RoundTrip(req)
		done <- err
	}()
	var ne net.Error
	if err := <-seen; errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the engine did not see the cancelled request's close while its body waited")
	}
	pw.CloseWithError(io.ErrUnexpectedEOF)
	if err := <-done; err == nil {
		t.Fatal("a cancelled request succeeded")
	}
}
