package httpapi

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

// A body read whole is closed, so net/http does not read it again for its
// end when the answer's head goes out; one that failed is left as it is.
func TestReadRequestBodyClosesTheBody(t *testing.T) {
	for _, length := range []int64{13, -1} { // declared, or chunked
		r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
		b := &closeCounter{Reader: strings.NewReader(`{"model":"m"}`)}
		r.Body, r.ContentLength = b, length
		body, err := readRequestBody(r, 1<<20)
		if err != nil || string(body) != `{"model":"m"}` || b.closed != 1 {
			t.Errorf("length %d: %q, %v, closed %d times; want the body, closed once", length, body, err, b.closed)
		}
	}
	r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
	b := &closeCounter{Reader: strings.NewReader(`{"mod`)}
	r.Body, r.ContentLength = b, 14
	if _, err := readRequestBody(r, 1<<20); err == nil || b.closed != 0 {
		t.Errorf("a short body: %v, closed %d times; want an error, not closed", err, b.closed)
	}
}
