package pipeline_test

import (
	"net/http"
	"testing"

	"github.com/dsgate/dsgate/internal/pipeline"
)

// A panic raised again from another goroutine (a write or dial made
// apart) keeps the stack where it happened; http.ErrAbortHandler raised so
// is still net/http's, re-raised as itself, not logged as a fault.
func TestRecoveredRaisedAgain(t *testing.T) {
	p := pipeline.Recovered(&pipeline.PanicError{Value: "write broke", Stack: []byte("where it broke")})
	if p.Value != "write broke" || string(p.Stack) != "where it broke" {
		t.Errorf("got %v with stack %q", p.Value, p.Stack)
	}
	var got any
	func() {
		defer func() { got = recover() }()
		pipeline.Recovered(&pipeline.PanicError{Value: http.ErrAbortHandler, Stack: []byte("s")})
	}()
	if got != http.ErrAbortHandler {
		t.Errorf("re-raised %v, want http.ErrAbortHandler itself", got)
	}
}
