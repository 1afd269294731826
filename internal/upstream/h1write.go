package upstream

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// sendBody is the body of a request Send makes: its bytes, which
// writeRequest writes as they are.
type sendBody struct {
	bytes.Reader
	b []byte
}

func newSendBody(b []byte) *sendBody {
	s := &sendBody{b: b}
	s.Reset(b)
	return s
}

func (*sendBody) Close() error { return nil }

// again is the request's GetBody: the bytes from their start.
func (s *sendBody) again() (io.ReadCloser, error) { return newSendBody(s.b), nil }

// writeRequest writes req as req.Write writes it, for the requests Send
// makes (a POST of a sendBody, the headers Send sets, a plain host; no
// httptrace hooks: nothing in dsgate sets them):
// Write formats its lines with fmt, sorts the headers through a map walk
// and a pooled sorter and replaces newlines in every value, some 13,000
// instructions a request, where this writes the same bytes in about a
// fifth of them. Any other request goes to req.Write.
func writeRequest(w *bufio.Writer, req *http.Request) error {
	body, uri, ok := plainRequest(req)
	if !ok {
		return req.Write(w)
	}
	w.WriteString("POST ")
	w.WriteString(uri)
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(req.Host)
	w.WriteString("\r\n")
	if ua, ok := req.Header["User-Agent"]; !ok {
		w.WriteString("User-Agent: Go-http-client/1.1\r\n")
	} else if len(ua) > 0 && ua[0] != "" {
		writeHeaderLine(w, "User-Agent", ua[0])
	}
	var n [20]byte
	w.WriteString("Content-Length: ")
	w.Write(strconv.AppendInt(n[:0], int64(len(body.b)), 10))
	w.WriteString("\r\n")
	// The headers in the order of their keys, as Write sorts them; Send
	// sets a handful.
	var stack [12]string
	keys := stack[:0]
	for k := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !httpguts.ValidHeaderFieldName(k) {
			continue // dropped, as Write drops it
		}
		for _, v := range req.Header[k] {
			writeHeaderLine(w, k, v)
		}
	}
	w.WriteString("\r\n")
	_, err := w.Write(body.b)
	return err
}

// plainRequest returns the body and request URI of a request
// writeRequest writes itself.
func plainRequest(req *http.Request) (body *sendBody, uri string, ok bool) {
	body, ok = req.Body.(*sendBody)
	if !ok || len(body.b) == 0 || req.Method != http.MethodPost || req.Close || len(req.TransferEncoding) > 0 ||
		req.Trailer != nil || req.ContentLength != int64(len(body.b)) || !plainHost(req.Host) || req.URL == nil {
		return nil, "", false
	}
	uri = req.URL.RequestURI()
	if strings.IndexFunc(uri, func(r rune) bool { return r < ' ' || r == 0x7f }) >= 0 {
		return nil, "", false // Write's error
	}
	return body, uri, true
}

// writeHeaderLine writes one header line as Write does: newlines in the
// value become spaces, and the value is trimmed (textproto.TrimString).
func writeHeaderLine(w *bufio.Writer, k, v string) {
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\n", " ", "\r", " ").Replace(v)
	}
	v = textproto.TrimString(v)
	w.WriteString(k)
	w.WriteString(": ")
	w.WriteString(v)
	w.WriteString("\r\n")
}

// plainHost reports whether h is a host Write sends as it is: ASCII
// letters, digits and the punctuation of names, addresses and ports (no
// IDNA conversion, no IPv6 zone to remove, nothing Write would blank).
func plainHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '-', c == ':', c == '[', c == ']', c == '_':
		default:
			return false
		}
	}
	return true
}
