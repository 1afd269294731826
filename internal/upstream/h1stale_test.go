//go:build unix

package upstream

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// (These two are a helper's, from its review of probeWrite.)

type opaqueBody struct{ io.Reader }

func (opaqueBody) Close() error { return nil }

// Every pooled connection the server closed is skipped (errStale), and a
// body that cannot be had again (no GetBody) still goes out whole on a new
// one.
func TestH1StaleLoopKeepsTheBody(t *testing.T) {
	var got atomic.Value
	var gate sync.WaitGroup
	gate.Add(20)
	url, conns := rawServer(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			_, body, err := readRequest(br)
			if err != nil {
				return
			}
			got.Store(body)
			if n <= 20 {
				gate.Done()
				gate.Wait() // 20 in flight together: 20 pooled connections, all closed after
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			if n <= 20 {
				return
			}
		}
	})
	h1 := newH1(10 * time.Second)
	defer h1.CloseIdleConnections()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { postSent(t, h1, url+"/", `{}`) })
	}
	wg.Wait()
	time.Sleep(100 * time.Millisecond)
	for _, body := range []io.ReadCloser{opaqueBody{strings.NewReader(`{"whole":true}`)}, newSendBody([]byte(`{"whole":true}`))} {
		r, _ := http.NewRequest("POST", url+"/", nil)
		r.Body, r.ContentLength = body, 14
		resp, err := h1.RoundTrip(r)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if got.Load() != `{"whole":true}` {
			t.Fatalf("server got %q, want the whole body", got.Load())
		}
	}
	if n := conns.Load(); n != 21 {
		t.Fatalf("%d connections, want 21: the 20 stale ones skipped, then one new", n)
	}
}

// The server closes right after the peek found the connection open: a FIN
// fails a POST (written, perhaps read: not sent twice) and a GET goes
// again; an RST fails the write, so nothing went out and the POST goes
// again. None waits for the head's bound.
func TestH1CloseAfterThePeek(t *testing.T) {
	for _, tc := range []struct {
		rst    bool
		method string
		ok     bool
	}{{false, "POST", false}, {false, "GET", true}, {true, "POST", true}, {true, "GET", true}} {
		srv := make(chan net.Conn, 1)
		url, _ := rawServer(t, okOnce(func(br *bufio.Reader, c net.Conn) {
			srv <- c
			readRequest(br)
			time.Sleep(time.Second)
		}))
		h1 := newH1(10 * time.Second)
		postSent(t, h1, url+"/", `{}`)
		c, sc := idleConn(t, h1, url), <-srv
		c.probe.write = func() error { // runs after the peek
			if tc.rst {
				sc.(*net.TCPConn).SetLinger(0)
			}
			sc.Close()
			time.Sleep(20 * time.Millisecond)
			return c.writeRequest()
		}
		req, _ := http.NewRequest(tc.method, url+"/", nil)
		if tc.method == "POST" {
			b := newSendBody([]byte(`{}`))
			req.Body, req.GetBody, req.ContentLength = b, b.again, 2
		}
		start := time.Now()
		resp, err := h1.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		if (err == nil) != tc.ok || time.Since(start) > 5*time.Second {
			t.Errorf("rst %v %s: %v after %v, want ok %v before the head's bound", tc.rst, tc.method, err, time.Since(start), tc.ok)
		}
		h1.CloseIdleConnections()
	}
}
