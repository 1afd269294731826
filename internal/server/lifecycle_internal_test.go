package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/config"
)

// newTestServer builds a Server from cfgYAML with a simulator upstream and
// a gRPC listener.
func newTestServer(t *testing.T) *Server {
	t.Helper()
	cfg, err := config.Parse(strings.NewReader(`version: 1
server: {listen: "127.0.0.1:0", shutdown_grace: 2s}
grpc: {listen: "127.0.0.1:0"}
upstreams:
  - {name: s, kind: sim}
models:
  - {name: deepseek-chat, targets: [{upstream: s, model: deepseek-chat}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runUntil runs s and returns Run's error, failing the test if Run does
// not return within d.
func runUntil(t *testing.T, s *Server, ctx context.Context, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("Run did not return within %v", d)
		return nil
	}
}

// A listener whose Serve fails stops the server with its error; the other
// listeners are shut down and the components closed.
func TestListenerFailureStopsServer(t *testing.T) {
	s := newTestServer(t)
	boom := errors.New("accept: too many open files")
	closed := make(chan struct{})
	s.life.addCloser("probe", func() error { close(closed); return nil })
	s.listeners = append(s.listeners, listener{
		name:     "broken",
		serve:    func() error { return boom },
		shutdown: func(context.Context) error { return nil },
		close:    func() error { return nil },
	})
	err := runUntil(t, s, context.Background(), 5*time.Second)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "broken listener") {
		t.Fatalf("Run = %v, want the broken listener's error", err)
	}
	select {
	case <-closed:
	default:
		t.Fatal("components were not closed")
	}
	if _, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil {
		t.Fatal("the API listener still accepts after the server stopped")
	}
}

// A background task that fails while the server runs stops it with its
// error.
func TestTaskFailureStopsServer(t *testing.T) {
	s := newTestServer(t)
	boom := errors.New("spool disk gone")
	s.life.addTask("probe", func(context.Context) error { return boom })
	if err := runUntil(t, s, context.Background(), 5*time.Second); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want the task's error", err)
	}
}

// A background task that panics stops the server with the panic as its
// error, after a clean shutdown, instead of killing the process.
func TestTaskPanicStopsServer(t *testing.T) {
	s := newTestServer(t)
	closed := false
	s.life.addCloser("probe", func() error { closed = true; return nil })
	s.life.addTask("probe", func(context.Context) error { panic("nil map") })
	err := runUntil(t, s, context.Background(), 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "probe: panic: nil map") {
		t.Fatalf("Run = %v, want the task's panic", err)
	}
	if !closed {
		t.Fatal("components were not closed")
	}
}

// Shutdown stops the tasks before any closer runs, and closes in reverse
// order of registration.
func TestShutdownOrder(t *testing.T) {
	s := newTestServer(t)
	var order []string
	s.life.addCloser("store", func() error { order = append(order, "close store"); return nil })
	s.life.addTask("recorder", func(ctx context.Context) error {
		<-ctx.Done()
		order = append(order, "flush recorder")
		return nil
	})
	s.life.addCloser("writer", func() error { order = append(order, "close writer"); return nil })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := runUntil(t, s, ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	want := "flush recorder,close writer,close store"
	if got := strings.Join(order, ","); got != want {
		t.Fatalf("order %s, want %s", got, want)
	}
}
