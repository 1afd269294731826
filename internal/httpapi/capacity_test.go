package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/httpapi"
)

// Issue 22: the limit also bounds requests in flight, which HTTP/2
// clients multiplex on few connections (here no connection is counted at
// all). The refusal has the route's error shape: OpenAI's, or
// Anthropic's on the Messages API's paths.
func TestCapacityBoundsRequestsInFlight(t *testing.T) {
	t.Parallel()
	a := newAPI(t, apiOptions{capacity: httpapi.NewCapacity(1)})
	entered, release := make(chan struct{}), make(chan struct{})
	a.backend.stream = func(ctx context.Context, c *gateway.Call, sink gateway.Sink) (*gateway.Result, error) {
		close(entered)
		<-release
		sink.Data([]byte("[DONE]"))
		return &gateway.Result{Upstream: "up", Started: true}, nil
	}
	done := make(chan int)
	go func() { // no t.Fatal off the test's goroutine
		req, _ := http.NewRequest(http.MethodPost, a.url+"/v1/chat/completions", strings.NewReader(streamBody))
		req.Header.Set("Authorization", "Bearer "+keyAdmin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-entered

	status, h, body := a.do(t, http.MethodPost, "/v1/chat/completions", keyAdmin, chatBody)
	var openaiShape struct {
		Error struct{ Code, Message string }
	}
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" ||
		json.Unmarshal(body, &openaiShape) != nil || openaiShape.Error.Code != "server_overloaded" {
		t.Fatalf("second request: %d %v %s", status, h, body)
	}
	// Both paths of the Messages API (/anthropic/v1/messages is the one
	// Anthropic SDKs call) refuse in Anthropic's shape, with X-Should-Retry.
	for _, path := range []string{"/v1/messages", "/anthropic/v1/messages"} {
		status, h, body := a.do(t, http.MethodPost, path, keyAdmin, messagesBody)
		if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !anthropicError(body) || h.Get("X-Should-Retry") != "true" {
			t.Errorf("%s at capacity: %d %v %s; want 503 in Anthropic's shape", path, status, h, body)
		}
	}
	if status, _, _ := a.do(t, http.MethodGet, "/healthz", "", ""); status != http.StatusOK {
		t.Errorf("healthz at the limit: %d", status)
	}

	close(release)
	if s := <-done; s != http.StatusOK {
		t.Fatalf("the admitted stream: %d", s)
	}
	if status, _, body := a.do(t, http.MethodPost, "/v1/chat/completions", keyAdmin, chatBody); status != http.StatusOK {
		t.Fatalf("after the stream ended: %d %s", status, body)
	}
}
