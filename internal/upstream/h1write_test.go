package upstream

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/openai"
)

// writeBoth writes the request Send would make for u with the extra
// headers h, once by writeRequest and once by net/http's Request.Write.
func writeBoth(t testing.TB, u *Upstream, e openai.Endpoint, body string, h http.Header) (fast, std string, plain bool) {
	t.Helper()
	var out [2]bytes.Buffer
	for i := range out {
		p, _ := u.path(e)
		req, err := u.newRequest(context.Background(), e, p, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header[k] = v
		}
		w := bufio.NewWriter(&out[i])
		if i == 0 {
			_, _, plain = plainRequest(req)
			err = writeRequest(w, req)
		} else {
			err = req.Write(w)
		}
		if err != nil {
			t.Fatal(err)
		}
		w.Flush()
	}
	return out[0].String(), out[1].String(), plain
}

// writeRequest writes the bytes net/http's Request.Write writes, for the
// requests Send makes and for the headers a caller or a tracer adds.
func TestWriteRequest(t *testing.T) {
	t.Parallel()
	openAI := New(Options{Name: "e", URL: "http://127.0.0.1:8000", APIKey: "k"})
	deepseek := New(Options{Name: "d", Kind: KindDeepSeek, URL: "http://localhost:9/base/", APIKey: "sk"})
	for _, tc := range []struct {
		name  string
		u     *Upstream
		e     openai.Endpoint
		body  string
		h     http.Header
		plain bool
	}{
		{"chat", openAI, openai.EndpointChat, `{"model":"m"}`, nil, true},
		{"as Send sets it", openAI, openai.EndpointChat, `{"model":"m"}`, http.Header{
			"Content-Type": jsonContentType, "Accept": acceptAnswers, "Authorization": openAI.authHeader,
			"X-Request-Id": {"r1"}, "Traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}, true},
		{"deepseek messages", deepseek, openai.EndpointMessages, `{}`, http.Header{"X-Api-Key": {"sk"}, "Anthropic-Version": {"2023-06-01"}}, true},
		{"newlines and spaces in a value", openAI, openai.EndpointFIM, `x`, http.Header{"X-Request-Id": {" a\r\nb\n\tc \t"}}, true},
		{"several values, odd keys", openAI, openai.EndpointEmbedding, `x`, http.Header{"b": {"1", "2"}, "A": {""}, "a b": {"dropped"}, "Ü": {"x"}}, true},
		{"a user agent", openAI, openai.EndpointChat, `x`, http.Header{"User-Agent": {"dsgate\n1"}}, true},
		{"an empty user agent", openAI, openai.EndpointChat, `x`, http.Header{"User-Agent": {""}}, true},
		{"excluded keys", openAI, openai.EndpointChat, `x`, http.Header{"Host": {"evil"}, "Content-Length": {"1"}, "Transfer-Encoding": {"chunked"}, "Trailer": {"X"}}, true},
		{"no body", openAI, openai.EndpointChat, ``, nil, false},
		{"many headers", openAI, openai.EndpointChat, `x`, http.Header{"H1": {"1"}, "H2": {"2"}, "H3": {"3"}, "H4": {"4"}, "H5": {"5"}, "H6": {"6"},
			"H7": {"7"}, "H8": {"8"}, "H9": {"9"}, "H10": {"10"}, "H11": {"11"}, "H12": {"12"}, "H13": {"13"}}, true},
	} {
		fast, std, plain := writeBoth(t, tc.u, tc.e, tc.body, tc.h)
		if fast != std {
			t.Errorf("%s: writeRequest wrote\n%q\nrequest.Write\n%q", tc.name, fast, std)
		}
		if plain != tc.plain {
			t.Errorf("%s: written by writeRequest itself %v, want %v", tc.name, plain, tc.plain)
		}
	}
	// A host Write converts (IDNA) or changes (an IPv6 zone) is left to
	// Write.
	for _, url := range []string{"http://bücher.example/", "http://[fe80::1%25eth0]:80"} {
		u := New(Options{Name: "x", URL: url})
		fast, std, plain := writeBoth(t, u, openai.EndpointChat, `x`, nil)
		if fast != std || plain {
			t.Errorf("%s: writeRequest wrote itself %v\n%q\nrequest.Write\n%q", url, plain, fast, std)
		}
	}
}

func FuzzWriteRequest(f *testing.F) {
	f.Add("http://127.0.0.1:8000", "X-Request-Id", "r1", "Authorization", "Bearer k", `{"a":1}`)
	f.Add("http://h:1/p q", "a\r\nb", " v\n", "User-Agent", "", "x")
	f.Add("http://[::1]:80/", "Content-Type", "\x00", "Ü", "\xff", "")
	f.Fuzz(func(t *testing.T, url, k1, v1, k2, v2, body string) {
		u := New(Options{Name: "x", URL: url})
		if u.urls[openai.EndpointChat] == nil {
			return
		}
		fast, std, _ := writeBoth(t, u, openai.EndpointChat, body, http.Header{k1: {v1}, k2: {v2, v1}})
		if fast != std {
			t.Fatalf("writeRequest wrote\n%q\nrequest.Write\n%q", fast, std)
		}
	})
}

// Send's request is what http.NewRequestWithContext makes of the URL.
func TestNewRequest(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"http://127.0.0.1:8000", "http://user:pw@h:80/base/", "http://h:/x", "https://api.deepseek.com"} {
		u := New(Options{Name: "x", URL: url})
		p, _ := u.path(openai.EndpointChat)
		got, err := u.newRequest(context.Background(), openai.EndpointChat, p, []byte("b"))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, u.base+p, strings.NewReader("b"))
		if got.URL.String() != want.URL.String() || got.Host != want.Host || got.ContentLength != want.ContentLength ||
			got.Proto != want.Proto || got.Method != want.Method {
			t.Errorf("%s: %s %s %d, want %s %s %d", url, got.URL, got.Host, got.ContentLength, want.URL, want.Host, want.ContentLength)
		}
		again, _ := got.GetBody()
		var b bytes.Buffer
		b.ReadFrom(again)
		if b.String() != "b" {
			t.Errorf("GetBody: %q", b.String())
		}
	}
}

// Only h1Transport gets a sendBody: net/http's Transport sends a request's
// headers and body in one write only for the in-memory readers it knows
// (a review measured two writes and two TLS records a small request with
// a sendBody). A nil context is an error, as NewRequestWithContext has it.
func TestNewRequestForNetHTTP(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{Name: "tls", URL: "https://api.deepseek.com"}, {Name: "n", URL: "http://127.0.0.1:1", NetHTTPClient: true}} {
		req, err := New(o).newRequest(context.Background(), openai.EndpointChat, "/v1/chat/completions", []byte("b"))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := req.Body.(*sendBody); ok {
			t.Errorf("%s: net/http's Transport gets a sendBody", o.Name)
		}
	}
	h1 := New(Options{Name: "h1", URL: "http://127.0.0.1:1"})
	if req, _ := h1.newRequest(context.Background(), openai.EndpointChat, "", []byte("b")); req == nil || !isSendBody(req.Body) {
		t.Error("h1Transport's request has no sendBody")
	}
	var none context.Context
	if _, err := h1.newRequest(none, openai.EndpointChat, "/v1/chat/completions", []byte("b")); err == nil {
		t.Error("a nil context: no error")
	}
}

func isSendBody(b io.ReadCloser) bool { _, ok := b.(*sendBody); return ok }

// Send's request reaches a plain-http engine as the bytes net/http's
// Request.Write writes for the same request (the h1 tests' requests come
// from http.NewRequest, which writeRequest leaves to Write).
func TestSendWritesItsRequest(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		var raw bytes.Buffer
		req, err := http.ReadRequest(bufio.NewReader(io.TeeReader(c, &raw)))
		if err == nil {
			_, err = io.Copy(io.Discard, req.Body)
		}
		if err != nil {
			got <- err.Error()
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
		got <- raw.String()
	}()
	u := New(Options{Name: "e", URL: "http://" + ln.Addr().String(), APIKey: "k"})
	body := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)
	resp, err := u.Send(context.Background(), openai.EndpointChat, body, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	want, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/v1/chat/completions", bytes.NewReader(body))
	want.Header = http.Header{"Content-Type": jsonContentType, "Accept": acceptAnswers, "Authorization": {"Bearer k"}, "X-Request-Id": {"req-1"}}
	var w bytes.Buffer
	want.Write(&w)
	if g := <-got; g != w.String() {
		t.Errorf("the engine read\n%q\nRequest.Write writes\n%q", g, w.String())
	}
}
