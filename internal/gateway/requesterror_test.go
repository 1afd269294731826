package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/dsgate/dsgate/internal/apierror"
	"github.com/dsgate/dsgate/internal/gateway"
)

// A 5xx blamed on the request reaches the caller as a 400 with a message
// of the gateway's own (the known fault, the engine's error type) and
// never the engine's text, which may name internal paths and hosts.
func TestRequestFaultMessageStaysInternal(t *testing.T) {
	t.Parallel()
	secret := " - internal path /models/secret-llama/ggml.bin host=10.0.3.7"
	for _, tc := range []struct {
		name, body, want string
	}{
		{"known fault", `{"error":{"message":"image input is not supported` + secret + `","type":"server_error","code":500}}`,
			"image input is not supported"},
		{"typed fault", `{"error":{"message":"bad grammar` + secret + `","type":"invalid_request_error","code":"bad_grammar"}}`,
			"could not process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t, "a", func(w http.ResponseWriter, _ *http.Request, _ int) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(500)
				fmt.Fprint(w, tc.body)
			})
			var log syncBuffer
			g := newGateway(gateway.Options{MaxAttempts: 2, Routes: []gateway.Route{route("m", nil, up("a", f.srv.URL))},
				Logger: slog.New(slog.NewTextHandler(&log, nil))})
			_, err := g.Complete(context.Background(), chat(t, "1", "m"))
			ae := apierror.From(err)
			if ae.Status != 400 || ae.Code != "request_not_processable" {
				t.Fatalf("got %d %s %q", ae.Status, ae.Code, ae.Message)
			}
			if strings.Contains(ae.Message, "10.0.3.7") || strings.Contains(ae.Message, "secret-llama") || !strings.Contains(ae.Message, tc.want) {
				t.Errorf("caller got %q", ae.Message)
			}
			if !strings.Contains(log.String(), "secret-llama") {
				t.Errorf("the full text is not in the log: %s", log.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
