package upstream

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// h1For is the transport an upstream at a plain-http URL gets, with its
// connections counted as the server sees them.
func h1For(t *testing.T, h http.Handler) (*h1Transport, *httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	tr := newTransport(time.Second, 5*time.Second)
	h1 := newH1Transport(tr, tr.DialContext, 5*time.Second)
	t.Cleanup(h1.CloseIdleConnections)
	return h1, srv, &conns
}

func post(t *testing.T, rt http.RoundTripper, ctx context.Context, url, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return rt.RoundTrip(req)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func echo(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "%s %s", r.URL.Path, b)
}

func TestPlainHTTPUpstreamsGetH1(t *testing.T) {
	for url, want := range map[string]bool{
		"http://127.0.0.1:8000":    true,
		"http://vllm.internal/v1":  true,
		"https://api.deepseek.com": false,
		"::bad":                    false,
	} {
		if got := plainHTTP(url); got != want {
			t.Errorf("plainHTTP(%q) = %v, want %v", url, got, want)
		}
	}
	if _, ok := New(Options{Name: "e", URL: "http://127.0.0.1:8000"}).rt.(*h1Transport); !ok {
		t.Error("an upstream at a plain-http URL does not get h1Transport")
	}
	if _, ok := New(Options{Name: "d", URL: "https://api.deepseek.com"}).rt.(*http.Transport); !ok {
		t.Error("an https upstream does not get net/http's Transport")
	}
	if _, ok := New(Options{Name: "n", URL: "http://127.0.0.1:8000", NetHTTPClient: true}).rt.(*http.Transport); !ok {
		t.Error("net_http_client does not keep an upstream on net/http's Transport")
	}
	t.Setenv("HTTP_PROXY", "http://proxy.internal:3128")
	if plainHTTP("http://vllm.internal/v1") {
		t.Error("an upstream behind a proxy gets h1Transport, which does not speak to proxies")
	}
}

func TestH1ReusesItsConnection(t *testing.T) {
	h1, srv, conns := h1For(t, http.HandlerFunc(echo))
	for i := range 20 {
		resp, err := post(t, h1, context.Background(), srv.URL+"/v1/chat/completions", fmt.Sprintf(`{"n":%d}`, i))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := readAll(t, resp), fmt.Sprintf(`/v1/chat/completions {"n":%d}`, i); got != want {
			t.Fatalf("answer %q, want %q", got, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("20 requests one after another took %d connections, want 1", n)
	}
}

// Each event reaches the reader while the server waits to send the next.
func TestH1StreamsEventsAsTheyCome(t *testing.T) {
	next := make(chan struct{})
	h1, srv, _ := h1For(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	}))
	resp, err := post(t, h1, context.Background(), srv.URL+"/v1/chat/completions", `{"stream":true}`)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := range 3 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("data: %d\n", i); line != want {
			t.Fatalf("event %q, want %q", line, want)
		}
		br.ReadString('\n')
		next <- struct{}{}
	}
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("after the last event: %v, want EOF", err)
	}
}

// rawServer answers each connection with serve, for answers net/http's
// server would not send.
func rawServer(t *testing.T, serve func(n int, c net.Conn)) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int64
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := int(conns.Add(1))
			wg.Go(func() { defer c.Close(); serve(n, c) })
		}
	})
	return "http://" + ln.Addr().String(), &conns
}

// readRequest reads one request and its body from c.
func readRequest(br *bufio.Reader) (*http.Request, string, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(req.Body)
	return req, string(b), err
}

func newH1(header time.Duration) *h1Transport {
	tr := newTransport(time.Second, header)
	return newH1Transport(tr, tr.DialContext, header)
}

// A server that closes a kept-alive connection after one answer (its
// keep-alive ran out as the next request went out): the next request goes
// out again on a new connection, with its body, and nobody sees an error.
func TestH1ResendsWhenAReusedConnectionWasClosed(t *testing.T) {
	var bodies sync.Map
	url, conns := rawServer(t, func(n int, c net.Conn) {
		br := bufio.NewReader(c)
		_, body, err := readRequest(br)
		if err != nil {
			return
		}
		bodies.Store(body, true)
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		// then close without "Connection: close", having read the next request or not
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		br.ReadByte()
	})
	h1 := newH1(5 * time.Second)
	defer h1.CloseIdleConnections()
	for i := range 5 {
		body := fmt.Sprintf(`{"n":%d}`, i)
		resp, err := post(t, h1, context.Background(), url+"/v1/chat/completions", body)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if got := readAll(t, resp); got != body {
			t.Fatalf("answer %q, want %q", got, body)
		}
		time.Sleep(100 * time.Millisecond) // the server has closed by now
	}
	if n := conns.Load(); n < 5 {
		t.Errorf("%d connections for 5 requests to a server that closes each", n)
	}
	// A request without a body (the health probes' GET) goes again too.
	for range 2 {
		req, _ := http.NewRequest(http.MethodGet, url+"/health", nil)
		resp, err := h1.RoundTrip(req)
		if err != nil {
			t.Fatalf("GET: %v", err)
		}
		readAll(t, resp)
		time.Sleep(100 * time.Millisecond)
	}
}

// A request that fails on a new connection is not sent again.
func TestH1DoesNotResendOnANewConnection(t *testing.T) {
	url, conns := rawServer(t, func(_ int, c net.Conn) {
		readRequest(bufio.NewReader(c)) // and close without answering
	})
	h1 := newH1(5 * time.Second)
	_, err := post(t, h1, context.Background(), url+"/v1/chat/completions", `{}`)
	if err == nil {
		t.Fatal("no error from a server that closed without answering")
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the request went out on %d connections, want 1", n)
	}
}

// streamUntilGone sends one event, then holds the stream until the client
// is gone, and closes closed.
func streamUntilGone(closed chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: 0\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(closed)
	}
}

func TestH1CancelEndsABodyRead(t *testing.T) {
	closed := make(chan struct{})
	h1, srv, _ := h1For(t, streamUntilGone(closed))
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := post(t, h1, ctx, srv.URL+"/v1/chat/completions", `{"stream":true}`)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	_, err = resp.Body.Read(buf)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream connection stayed open after the cancel")
	}
	resp.Body.Close()
}

func TestH1BoundsTheWaitForTheHead(t *testing.T) {
	url, _ := rawServer(t, func(_ int, c net.Conn) {
		readRequest(bufio.NewReader(c))
		c.Read(make([]byte, 1)) // until the client gives up
	})
	h1 := newH1(100 * time.Millisecond)
	start := time.Now()
	_, err := post(t, h1, context.Background(), url+"/v1/chat/completions", `{}`)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v, want a timeout", err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("the timeout came after %v", d)
	}
}

func TestH1ConnectionsNotReusedUnlessWholeAndKept(t *testing.T) {
	h1, srv, conns := h1For(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			w.Header().Set("Connection", "close")
		}
		io.WriteString(w, strings.Repeat("x", 10000))
	}))
	// Closed before its end: the connection goes.
	resp, err := post(t, h1, context.Background(), srv.URL+"/part", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 10))
	resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 10)); err == nil {
		t.Error("a read after Close succeeded")
	}
	// Connection: close.
	resp, err = post(t, h1, context.Background(), srv.URL+"/close", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	// Read whole: the connection stays for the next one.
	for range 2 {
		resp, err = post(t, h1, context.Background(), srv.URL+"/whole", `{}`)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); len(got) != 10000 {
			t.Fatalf("answer of %d bytes", len(got))
		}
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d connections, want 3 (part, close, then one for both whole answers)", n)
	}
}

func TestH1HeadBounded(t *testing.T) {
	url, _ := rawServer(t, func(_ int, c net.Conn) {
		readRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
		for range 2000 {
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	})
	_, err := post(t, newH1(5*time.Second), context.Background(), url+"/", `{}`)
	if !errors.Is(err, errHeadTooLarge) {
		t.Fatalf("err %v, want %v", err, errHeadTooLarge)
	}
}

// An informational answer is skipped; bytes after an answer that nobody
// asked for keep its connection out of reuse.
func TestH1InformationalAndUnsolicited(t *testing.T) {
	url, conns := rawServer(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			if _, _, err := readRequest(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK")
		}
	})
	h1 := newH1(5 * time.Second)
	defer h1.CloseIdleConnections()
	for range 2 {
		resp, err := post(t, h1, context.Background(), url+"/", `{}`)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("status %d, want 200", resp.StatusCode)
		}
		if got := readAll(t, resp); got != "ok" {
			t.Fatalf("answer %q", got)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want 2 (the junk after each answer retires its connection)", n)
	}
}

func TestH1SweepsIdleConnections(t *testing.T) {
	h1, srv, _ := h1For(t, http.HandlerFunc(echo))
	h1.reuse = 50 * time.Millisecond
	resp, err := post(t, h1, context.Background(), srv.URL+"/", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	deadline := time.Now().Add(5 * time.Second)
	for {
		h1.mu.Lock()
		n := 0
		for _, s := range h1.idle {
			n += len(s)
		}
		h1.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections left after the sweep", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type recordingTransport struct{ urls []string }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.urls = append(r.urls, req.URL.String())
	return &http.Response{StatusCode: 200, Body: http.NoBody, Request: req}, nil
}

func TestH1LeavesHTTPSToNetHTTP(t *testing.T) {
	rec := &recordingTransport{}
	h1 := newH1Transport(rec, (&net.Dialer{}).DialContext, time.Second)
	if _, err := post(t, h1, context.Background(), "https://api.deepseek.com/chat/completions", `{}`); err != nil {
		t.Fatal(err)
	}
	if len(rec.urls) != 1 {
		t.Fatalf("the fallback saw %v", rec.urls)
	}
}

// Many callers at once, each reading its own answer (run with -race).
func TestH1Concurrent(t *testing.T) {
	h1, srv, conns := h1For(t, http.HandlerFunc(echo))
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 25 {
				body := fmt.Sprintf(`{"g":%d,"i":%d}`, g, i)
				resp, err := post(t, h1, context.Background(), srv.URL+"/x", body)
				if err != nil {
					t.Error(err)
					return
				}
				if got := readAll(t, resp); got != "/x "+body {
					t.Errorf("answer %q to %q", got, body)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := conns.Load(); n > 16 {
		t.Errorf("16 callers opened %d connections", n)
	}
}

// The cases below were found by a review that ran each against h1Transport
// and net/http's Transport: h1Transport now does what net/http does.

// okOnce answers the first request of a connection with "ok" and then
// hands the connection to then (nil: close it).
func okOnce(then func(br *bufio.Reader, c net.Conn)) func(int, net.Conn) {
	return func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		if _, _, err := readRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		if then != nil {
			c.SetReadDeadline(time.Now().Add(3 * time.Second)) // no test waits on it longer
			then(br, c)
		}
	}
}

// postOK sends body and expects "ok".
func postOK(t *testing.T, rt http.RoundTripper, url, body string) {
	t.Helper()
	resp, err := post(t, rt, context.Background(), url, body)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); got != "ok" {
		t.Fatalf("answer %q, want ok", got)
	}
}

// A POST that waited past the head's bound, or that the server read and
// then closed on without answering, is not sent again.
func TestH1DoesNotResendAPostTheServerRead(t *testing.T) {
	for _, tc := range []struct {
		name string
		then func(br *bufio.Reader, c net.Conn)
	}{
		{"head timeout", func(br *bufio.Reader, c net.Conn) {
			readRequest(br)
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			c.Read(make([]byte, 1)) // busy until the client gives up
		}},
		{"closed without answering", func(br *bufio.Reader, c net.Conn) { readRequest(br) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var requests atomic.Int64
			url, _ := rawServer(t, func(n int, c net.Conn) {
				requests.Add(1)
				okOnce(func(br *bufio.Reader, c net.Conn) { requests.Add(1); tc.then(br, c) })(n, c)
			})
			h1 := newH1(300 * time.Millisecond)
			defer h1.CloseIdleConnections()
			postOK(t, h1, url+"/", `{}`)
			if _, err := post(t, h1, context.Background(), url+"/", `{"second":true}`); err == nil {
				t.Fatal("no error")
			}
			time.Sleep(100 * time.Millisecond)
			// requests counts each connection's first request and the second request on the first connection
			if n := requests.Load(); n != 2 {
				t.Errorf("the server saw %d requests, want 2: the second went out again", n)
			}
		})
	}
}

// An engine that restarted closed every pooled connection: a request,
// however big, goes out on a new one.
func TestH1SkipsConnectionsTheServerClosed(t *testing.T) {
	for _, size := range []int{100, 4 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			var gate sync.WaitGroup
			gate.Add(3)
			url, _ := rawServer(t, func(n int, c net.Conn) {
				br := bufio.NewReader(c)
				if _, _, err := readRequest(br); err != nil {
					return
				}
				if n <= 3 {
					gate.Done()
					gate.Wait() // three requests in flight together: three pooled connections
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			})
			h1 := newH1(5 * time.Second)
			defer h1.CloseIdleConnections()
			var wg sync.WaitGroup
			for range 3 {
				wg.Go(func() { postOK(t, h1, url+"/", `{}`) })
			}
			wg.Wait()
			time.Sleep(100 * time.Millisecond) // the server has closed all three
			postOK(t, h1, url+"/", strings.Repeat("x", size))
		})
	}
}

// A server that answers before reading the whole body (413) and closes:
// the caller gets the answer, not the failed write.
func TestH1ReturnsAnAnswerThatCameBeforeTheBodyWent(t *testing.T) {
	url, _ := rawServer(t, func(_ int, c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 7\r\n\r\ntoo big")
		c.(*net.TCPConn).CloseWrite()
		time.Sleep(50 * time.Millisecond)
	})
	resp, err := post(t, newH1(5*time.Second), context.Background(), url+"/", strings.Repeat("x", 16<<20))
	if err != nil {
		t.Fatalf("%v, want the 413", err)
	}
	if got := readAll(t, resp); resp.StatusCode != 413 || got != "too big" {
		t.Fatalf("%d %q, want 413 too big", resp.StatusCode, got)
	}
}

// Bytes that come on an idle connection retire it.
func TestH1RetiresAConnectionWithLateBytes(t *testing.T) {
	url, _ := rawServer(t, okOnce(func(br *bufio.Reader, c net.Conn) {
		time.Sleep(20 * time.Millisecond)
		io.WriteString(c, "\r\n") // a stray CRLF after the answer
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		c.Read(make([]byte, 1))
	}))
	h1 := newH1(5 * time.Second)
	defer h1.CloseIdleConnections()
	postOK(t, h1, url+"/", `{}`)
	time.Sleep(100 * time.Millisecond)
	postOK(t, h1, url+"/", `{}`)
}

// A cancelled request's connection closes at once, though nobody reads
// its body: the engine stops generating.
func TestH1CancelClosesTheConnection(t *testing.T) {
	closed := make(chan struct{})
	h1, srv, _ := h1For(t, streamUntilGone(closed))
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := post(t, h1, ctx, srv.URL+"/", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	cancel()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the engine did not see the cancel")
	}
}
