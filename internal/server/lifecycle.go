package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/openai"
)

// errShuttingDown is the cause with which requests still running at the
// end of the shutdown grace period are cancelled. The HTTP API maps a
// request context's cause onto the error the client gets, so a stream cut
// then ends with this error event instead of a bare EOF.
var errShuttingDown = &openai.Error{Status: http.StatusServiceUnavailable, Type: "service_unavailable_error",
	Code: "shutting_down", Message: "the server is shutting down and the grace period is over; retry the request"}

// task is a background loop that runs until the server stops. A task that
// returns an error before then stops the server with that error.
type task struct {
	name string
	run  func(context.Context) error
}

// guarded runs the task, turning a panic into an error that stops the
// server loudly instead of killing it without the shutdown (or leaving a
// loop silently dead).
func (t task) guarded(ctx context.Context) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return t.run(ctx)
}

// closer releases one component once requests and tasks are done.
type closer struct {
	name  string
	close func() error
}

// lifecycle is what the components registered while they were built: the
// background tasks to run and the closers to call, in the order of their
// dependencies (a closer's component may use those registered before it).
// New freezes it; Run then only reads it.
type lifecycle struct {
	tasks   []task
	closers []closer
}

// addTask registers a background loop.
func (l *lifecycle) addTask(name string, run func(context.Context) error) {
	l.tasks = append(l.tasks, task{name, run})
}

// addCloser registers a component to close after the tasks stop.
func (l *lifecycle) addCloser(name string, f func() error) {
	l.closers = append(l.closers, closer{name, f})
}

// close calls the closers in reverse order of registration, so a writer
// is closed before the store it writes to.
func (l *lifecycle) close() error {
	var errs []error
	for i := len(l.closers) - 1; i >= 0; i-- {
		if err := l.closers[i].close(); err != nil {
			errs = append(errs, fmt.Errorf("closing %s: %w", l.closers[i].name, err))
		}
	}
	return errors.Join(errs...)
}

// runTasks starts every task under ctx. A task that fails or panics is
// reported on failed (never blocking); wait returns once all have returned, with the
// errors of those that failed after ctx ended (a last flush, say).
func (l *lifecycle) runTasks(ctx context.Context, failed chan<- error, log *slog.Logger) (wait func() error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var late []error
	for _, t := range l.tasks {
		wg.Go(func() {
			err := t.guarded(ctx)
			if err == nil || errors.Is(err, context.Canceled) {
				return
			}
			err = fmt.Errorf("%s: %w", t.name, err)
			if ctx.Err() == nil {
				log.Error("background task failed; stopping", "task", t.name, "error", err.Error())
				report(failed, err)
				return
			}
			mu.Lock()
			late = append(late, err)
			mu.Unlock()
		})
	}
	return func() error {
		wg.Wait()
		return errors.Join(late...)
	}
}

// report sends err unless failed already holds an error: the first
// failure is the one that stops the server.
func report(failed chan<- error, err error) {
	select {
	case failed <- err:
	default:
	}
}

// listener is one socket the server serves on: the API, gRPC, metrics or
// pprof. serve returns nil once shutdown or close has been called.
type listener struct {
	name     string
	serve    func() error
	shutdown func(context.Context) error // graceful: returns when drained or ctx ends
	close    func() error                // cuts what is left
}

// httpListener serves srv on ln.
func httpListener(name string, srv *http.Server, ln net.Listener) listener {
	return listener{
		name: name,
		serve: func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
		shutdown: srv.Shutdown,
		close:    srv.Close,
	}
}

// serveAll starts every listener; the first that fails is reported on
// failed. wait returns once every Serve has returned.
func serveAll(ls []listener, failed chan<- error) (wait func()) {
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() {
			if err := l.serve(); err != nil {
				report(failed, fmt.Errorf("%s listener: %w", l.name, err))
			}
		})
	}
	return wg.Wait
}

// drainAll shuts every listener down at once and waits for all of them:
// new connections are refused and in-flight requests and streams run on.
// At grace minus cutWindow(grace), cut is called (it cancels the requests
// still running, with a cause they can tell the client); at grace, what is
// left is closed.
func drainAll(ls []listener, grace time.Duration, cut func(), log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	timer := time.AfterFunc(grace-cutWindow(grace), cut)
	defer timer.Stop()
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() {
			if err := l.shutdown(ctx); err != nil {
				log.Warn("grace period over; closing remaining connections", "listener", l.name)
				l.close()
			}
		})
	}
	wg.Wait()
}

// cutWindow is the part of the grace period left to requests after they
// are cancelled, to send their error and return: a quarter of the grace
// period, at most a second.
func cutWindow(grace time.Duration) time.Duration {
	return min(grace/4, time.Second)
}
