package upstream

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/dsgate/dsgate/internal/openai"
)

// An upstream that answers with a redirect is not followed: the answer is
// a failed attempt like any other non-2xx. A gateway that followed it
// would send the request, its body and the upstream's credentials to
// wherever the redirect points (net/http's client follows a 307 or 308 of
// a POST with its body, and kept the Authorization header on a redirect
// to the same host's other port).
func TestSendDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.Write([]byte(`{"choices":[]}`))
	}))
	defer other.Close()
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, code)
		}))
		for _, netHTTP := range []bool{false, true} {
			u := New(Options{Name: "r", URL: up.URL, APIKey: "sk-secret", NetHTTPClient: netHTTP})
			resp, err := u.Send(context.Background(), openai.EndpointChat, []byte(`{"model":"m","messages":[]}`), "")
			if err == nil {
				resp.Body.Close()
				t.Fatalf("a %d answer (net_http_client %v): accepted (%d)", code, netHTTP, resp.StatusCode)
			}
			var ue *Error
			if !errors.As(err, &ue) || ue.StatusCode != code {
				t.Errorf("a %d answer (net_http_client %v): %v, want the upstream's status", code, netHTTP, err)
			}
		}
		up.Close()
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirects were followed %d times", n)
	}
}

// Send calls the transport itself (no http.Client): a URL's user info is
// still sent as basic authentication, as net/http's client sent it, and an
// API key wins over it.
func TestSendUserInfoIsBasicAuth(t *testing.T) {
	t.Parallel()
	got := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	withUser := "http://vllm:pa%3Ass@" + srv.Listener.Addr().String()
	for _, tc := range []struct{ url, key, want string }{
		{withUser, "", "Basic dmxsbTpwYTpzcw=="}, // vllm:pa:ss
		{withUser, "sk-1", "Bearer sk-1"},
		{srv.URL, "", ""},
	} {
		for _, netHTTP := range []bool{false, true} {
			u := New(Options{Name: "b", URL: tc.url, APIKey: tc.key, NetHTTPClient: netHTTP})
			resp, err := u.Send(context.Background(), openai.EndpointChat, []byte(`{}`), "")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if a := <-got; a != tc.want {
				t.Errorf("%s with key %q: Authorization %q, want %q", tc.url, tc.key, a, tc.want)
			}
		}
	}
}
