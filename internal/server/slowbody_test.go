package server_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Issue 13 item 6 through the real server: an unauthenticated client that
// declares a 100000-byte body and trickles it gets its 401 at once, and
// the connection is closed (before, it was held for minutes without an
// answer).
func TestSlowBodyUnauthenticatedGets401AtOnce(t *testing.T) {
	t.Parallel()
	e := startAuth(t, "")
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"mo"))
	start := time.Now()
	conn.SetReadDeadline(start.Add(3 * time.Second))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer within 3s: %v", err)
	}
	io.ReadAll(resp.Body)
	if resp.StatusCode != 401 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := br.ReadByte(); err != io.EOF || time.Since(start) > 2*time.Second {
		t.Errorf("connection not closed at once (%v after %v)", err, time.Since(start))
	}
}

// Oversized headers get their 431 in OpenAI's error shape from the real
// server (before: net/http's plain text).
func TestOversizedHeadersAre431InTheErrorShape(t *testing.T) {
	t.Parallel()
	e := startAuth(t, "")
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write([]byte("GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 200<<10) + "\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 431 || resp.Header.Get("Content-Type") != "application/json" ||
		!strings.Contains(string(body), `"code":"request_header_fields_too_large"`) {
		t.Errorf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
}
