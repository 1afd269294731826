package upstream

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"

	"github.com/dsgate/dsgate/internal/openai"
)

// BenchmarkSend is one non-streaming call through Send to a loopback peer
// that answers every request with the same bytes (no net/http server, so
// the allocations counted are the client's).
func BenchmarkSend(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	const answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					n := 0 // read a request: head, then a 2-byte body
					for {
						line, err := r.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
						n++
					}
					if _, err := io.ReadFull(r, make([]byte, 2)); err != nil || n == 0 {
						return
					}
					if _, err := c.Write([]byte(answer)); err != nil {
						return
					}
				}
			}()
		}
	}()
	u := New(Options{Name: "b", URL: "http://" + ln.Addr().String(), APIKey: "sk-1"})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := u.Send(ctx, openai.EndpointChat, []byte(`{}`), "req-1")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
