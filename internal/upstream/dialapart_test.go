package upstream

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

//go:noinline
func panickingDial(context.Context, string, string) (net.Conn, error) { panic("dial broke") }

// A dial that panics: dialApart raises the panic again on the caller's
// goroutine, with the stack where it happened (the request's recovery
// point logs that one, pipeline.Recovered), not its own.
func TestDialApartPanicStack(t *testing.T) {
	h1 := newH1Transport(newTransport(time.Second, time.Second), panickingDial, time.Second)
	var got any
	func() {
		defer func() { got = recover() }()
		req, _ := http.NewRequest("POST", "http://127.0.0.1:9/v1/chat/completions", strings.NewReader("{}"))
		h1.RoundTrip(req)
	}()
	p, ok := got.(interface {
		PanicValue() any
		PanicStack() []byte
	})
	if !ok {
		t.Fatalf("recovered %#v, want the dial's panic with its stack", got)
	}
	if p.PanicValue() != "dial broke" || !strings.Contains(string(p.PanicStack()), "panickingDial") {
		t.Errorf("value %v, stack without the dial that panicked:\n%s", p.PanicValue(), p.PanicStack())
	}
}

// A dial cut by the request's context: dialApart's wait ends with it.
func TestDialApartContext(t *testing.T) {
	started := make(chan struct{})
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	h1 := newH1Transport(newTransport(time.Second, time.Second), dial, time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://127.0.0.1:9/x", strings.NewReader("{}"))
	done := make(chan error, 1)
	go func() { _, err := h1.RoundTrip(req); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip still waits for a dial its context cancelled")
	}
}
