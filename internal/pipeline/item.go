package pipeline

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/reqscope"
)

// PanicError is a panic turned into an error by a recovery point. Its
// message is "internal error" to the client (apierror maps it to a 500);
// the value and stack go to the log.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// PanicValue and PanicStack make a *PanicError a stackedPanic.
func (e *PanicError) PanicValue() any    { return e.Value }
func (e *PanicError) PanicStack() []byte { return e.Stack }

// stackedPanic is a panic raised again on another goroutine than the one
// it happened on (a write or a dial made apart: sseSink.headApart,
// upstream's dialApart), carrying the stack where it happened, which is
// the one logged.
type stackedPanic interface {
	PanicValue() any
	PanicStack() []byte
}

// Recovered turns the value of recover() into a *PanicError, nil when
// nothing panicked. http.ErrAbortHandler is not a fault and is re-raised,
// itself, also when it was raised again from another goroutine.
func Recovered(v any) *PanicError {
	if v == nil {
		return nil
	}
	stack := []byte(nil)
	if sp, ok := v.(stackedPanic); ok {
		v, stack = sp.PanicValue(), sp.PanicStack()
	}
	if v == http.ErrAbortHandler {
		panic(v)
	}
	if stack == nil {
		stack = debug.Stack()
	}
	return &PanicError{Value: v, Stack: stack}
}

// Item is one request of a batch (an item of POST /v1/batch or of the
// gRPC Batch RPC, a line of a Batch API job): a call of its own.
type Item struct {
	Call
	// RequestID names the item in its record; Route and Method name the
	// route it is recorded under ("POST /v1/batch#item").
	RequestID  string
	Route      string
	Method     string
	ClientAddr string
	// Refused, when set, is why the item was refused before it could be
	// run (its batch entry is malformed): the item is recorded with this
	// error and not run.
	Refused error
}

// Item runs one batch item as a call of its own: its own scope, admitted
// and settled by Run, recovered when it panics, and recorded (metrics and
// an audit record naming its principal) when it ends. It returns the
// result (nil only with an error) and the error, whose OpenAI form is
// apierror.From's.
func (pl *Pipeline) Item(ctx context.Context, it *Item) (*gateway.Result, error) {
	s := &reqscope.Scope{RequestID: it.RequestID, Start: time.Now(), Route: it.Route}
	ctx = reqscope.With(ctx, s)
	var res *gateway.Result
	err := it.Refused
	if err == nil {
		res, err = pl.runRecovered(ctx, &it.Call)
	} else if p := it.Principal; p != nil {
		s.Principal, s.Role = p.ID, p.Role
	}
	status := http.StatusOK
	if err != nil {
		status = Fail(s, err).Status
	}
	pl.o.Recorder.Record(s, it.Route, it.Method, it.ClientAddr, status, time.Now())
	return res, err
}

// runRecovered is Run with a panic turned into a *PanicError, logged with
// its stack.
func (pl *Pipeline) runRecovered(ctx context.Context, c *Call) (res *gateway.Result, err error) {
	defer func() {
		if pe := Recovered(recover()); pe != nil {
			pl.o.Logger.Error("panic serving batch item", "request_id", reqscope.From(ctx).RequestID,
				"panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
			err = pe
		}
	}()
	return pl.Run(ctx, c)
}
