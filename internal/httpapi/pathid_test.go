package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// A path with NUL, another control character or bytes that are not UTF-8
// names nothing dsgate stores: it is a 404 in OpenAI's shape before any
// handler (which would pass the id to PostgreSQL, which refuses it: 500).
// An unknown URL's message carries a bounded prefix of the path.
func TestPathIDsWithControlBytesAreNotFound(t *testing.T) {
	t.Parallel()
	reached := make(chan string, 16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached <- r.URL.Path
		w.WriteHeader(500)
	})
	a := newAPI(t, apiOptions{mounts: map[string]http.Handler{"/v1/files/": h, "/v1/batches/": h, "/admin/keys/": h}})
	for _, path := range []string{"/v1/files/abc%00/content", "/v1/batches/x%00", "/admin/keys/ab%00",
		"/admin/keys/ab%FF", "/v1/files/a%0Ab", "/v1/batches/a%7Fb"} {
		status, _, body := a.do(t, "GET", path, keyAdmin, "")
		if status != 404 {
			t.Errorf("%s: status %d %s", path, status, body)
			continue
		}
		oneError(t, body)
	}
	select {
	case p := <-reached:
		t.Errorf("a handler saw %q", p)
	default:
	}
	status, _, body := a.do(t, "GET", "/v1/nothing/"+strings.Repeat("x", 100_000), keyAdmin, "")
	if e := oneError(t, body); status != 404 || len(e.Error.Message) > 1024 {
		t.Errorf("unknown URL: %d, message of %d bytes", status, len(e.Error.Message))
	}
}
