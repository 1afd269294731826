package httpapi

import (
	"bytes"
	"net"
	"net/http"
	"strconv"

	"github.com/dsgate/dsgate/internal/openai"
)

// ErrorShapeListener wraps a plaintext listener so the few answers that
// net/http writes itself, before any handler runs (431 Request Header
// Fields Too Large, 400 for a malformed request, 501 for an unsupported
// transfer encoding), carry OpenAI's error shape like every other answer.
// A TLS listener cannot be wrapped this way (net/http needs its
// *tls.Conn); there those answers stay plain text.
func ErrorShapeListener(ln net.Listener) net.Listener { return shapeListener{ln} }

type shapeListener struct{ net.Listener }

func (l shapeListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &shapeConn{Conn: c}, nil
}

// shapeConn rewrites net/http's canned error responses.
type shapeConn struct{ net.Conn }

// cannedHeaders is what net/http puts between the status line and the
// body of the answers it writes without a handler.
var cannedHeaders = []byte("\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n")

func (c *shapeConn) Write(p []byte) (int, error) {
	if len(p) < 512 && bytes.HasPrefix(p, []byte("HTTP/1.1 ")) && len(p) > 12 && (p[9] == '4' || p[9] == '5') {
		if out, ok := reshape(p); ok {
			if _, err := c.Conn.Write(out); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// CloseWrite keeps net/http's graceful close of the underlying TCP
// connection.
func (c *shapeConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// reshape turns one canned response into the same status with an OpenAI
// error body; ok is false for anything else.
func reshape(p []byte) ([]byte, bool) {
	i := bytes.Index(p, cannedHeaders)
	if i < 0 {
		return nil, false
	}
	code, err := strconv.Atoi(string(p[9:12]))
	if err != nil {
		return nil, false
	}
	msg := string(p[i+len(cannedHeaders):])
	if msg == "" {
		msg = http.StatusText(code)
	}
	e := openai.NewError(code, msg, "")
	e.Type = "invalid_request_error"
	if code == http.StatusRequestHeaderFieldsTooLarge {
		e.Code = "request_header_fields_too_large"
	}
	body := e.JSON()
	out := make([]byte, 0, 160+len(body))
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(code), 10)
	out = append(out, ' ')
	out = append(out, http.StatusText(code)...)
	out = append(out, "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(body)), 10)
	out = append(out, "\r\n\r\n"...)
	return append(out, body...), true
}
