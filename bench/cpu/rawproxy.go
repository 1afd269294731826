package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// The rawproxy target is goproxy with net/http's client replaced by the
// least an HTTP/1.1 client can be: a pool of idle connections, one
// buffered reader and writer each, the request written and the answer
// read on the handler's own goroutine (net/http's Transport runs two more
// per connection and hands every request and answer between them). It is
// an experiment, not a client to ship (no TLS, proxies, timeouts or
// retries): it measures how much of goproxy's cost is the client, the part
// dsgate could replace, against the server, which it keeps.

// rawConn is one upstream connection.
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
	bw *bufio.Writer
}

// rawClient sends requests to one upstream address.
type rawClient struct {
	addr string
	mu   sync.Mutex
	idle []*rawConn
}

func (rc *rawClient) get() (*rawConn, error) {
	rc.mu.Lock()
	if n := len(rc.idle); n > 0 {
		c := rc.idle[n-1]
		rc.idle = rc.idle[:n-1]
		rc.mu.Unlock()
		return c, nil
	}
	rc.mu.Unlock()
	c, err := net.DialTimeout("tcp", rc.addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, br: bufio.NewReaderSize(c, 4096), bw: bufio.NewWriterSize(c, 4096)}, nil
}

func (rc *rawClient) put(c *rawConn) {
	rc.mu.Lock()
	rc.idle = append(rc.idle, c)
	rc.mu.Unlock()
}

// rawAnswer is an answer's head.
type rawAnswer struct {
	status      int
	contentType string
	length      int // -1: chunked
}

// send writes the request and reads the answer's head.
func (c *rawConn) send(method, host, path, contentType string, body []byte) (rawAnswer, error) {
	bw := c.bw
	bw.WriteString(method)
	bw.WriteString(" ")
	bw.WriteString(path)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\nContent-Type: ")
	bw.WriteString(contentType)
	bw.WriteString("\r\nContent-Length: ")
	bw.WriteString(strconv.Itoa(len(body)))
	bw.WriteString("\r\n\r\n")
	bw.Write(body)
	if err := bw.Flush(); err != nil {
		return rawAnswer{}, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return rawAnswer{}, err
	}
	if len(line) < 12 {
		return rawAnswer{}, errors.New("short status line")
	}
	a := rawAnswer{length: -2}
	a.status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return rawAnswer{}, err
	}
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return rawAnswer{}, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		i := bytes.IndexByte(line, ':')
		if i < 0 {
			continue
		}
		k, v := line[:i], bytes.TrimSpace(line[i+1:])
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			a.length, err = strconv.Atoi(string(v))
			if err != nil {
				return rawAnswer{}, err
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			a.length = -1
		case bytes.EqualFold(k, []byte("Content-Type")):
			a.contentType = string(v)
		}
	}
	if a.length == -2 {
		return rawAnswer{}, errors.New("answer without length")
	}
	return a, nil
}

// relay copies the answer's body to w, flushing a chunked body whenever
// nothing more is buffered (as goproxy flushes each read).
func (c *rawConn) relay(w http.ResponseWriter, a rawAnswer, buf []byte) error {
	if a.length >= 0 {
		for n := a.length; n > 0; {
			k, err := c.br.Read(buf[:min(n, len(buf))])
			w.Write(buf[:k])
			n -= k
			if err != nil {
				return err
			}
		}
		return nil
	}
	flusher, _ := w.(http.Flusher)
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, err := strconv.ParseInt(string(bytes.TrimRight(line, "\r\n")), 16, 64)
		if err != nil {
			return err
		}
		if size == 0 {
			_, err = c.br.Discard(2)
			return err
		}
		for n := int(size); n > 0; {
			k, err := c.br.Read(buf[:min(n, len(buf))])
			w.Write(buf[:k])
			n -= k
			if err != nil {
				return err
			}
		}
		if _, err := c.br.Discard(2); err != nil {
			return err
		}
		if c.br.Buffered() == 0 && flusher != nil {
			flusher.Flush()
		}
	}
}

// serveRawProxy relays every request to upstream until the process ends.
func serveRawProxy(addr, upstream string) error {
	rc := &rawClient{addr: upstream}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c, err := rc.get()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		a, err := c.send(r.Method, upstream, r.URL.Path, r.Header.Get("Content-Type"), body)
		if err != nil {
			c.c.Close()
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", a.contentType)
		w.WriteHeader(a.status)
		var buf [4096]byte
		if err := c.relay(w, a, buf[:]); err != nil {
			c.c.Close()
			return
		}
		rc.put(c)
	})
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}
