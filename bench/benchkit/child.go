package benchkit

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Child is a process a benchmark runs (a simulator, a gateway) with its
// output appended to a log file. On Linux it dies with the benchmark.
type Child struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// StartChild runs bin with args, its output appended to logPath.
func StartChild(bin, logPath string, args ...string) (*Child, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	c := &Child{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	c.cmd.Stdout, c.cmd.Stderr = f, f
	c.cmd.SysProcAttr = sysProcAttr()
	if err := c.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s %s: %w", bin, strings.Join(args, " "), err)
	}
	go func() {
		c.cmd.Wait()
		f.Close()
		close(c.done)
	}()
	return c, nil
}

// PID is the process id.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// Done is closed once the process has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// Exited reports whether the process has exited.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Signal sends sig (SIGHUP to reload a gateway, say).
func (c *Child) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

// Kill sends SIGKILL and waits until the process is gone, so its port is
// free again.
func (c *Child) Kill() {
	if c.Exited() {
		return
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// Terminate sends SIGTERM and waits up to wait for the process to exit;
// it reports how long the exit took and whether it was clean (status 0).
// A process still running after wait is killed and reported as not clean.
func (c *Child) Terminate(wait time.Duration) (took time.Duration, clean bool) {
	start := time.Now()
	if c.Exited() {
		return 0, false
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return time.Since(start), c.cmd.ProcessState.Success()
	case <-time.After(wait):
		c.Kill()
		return time.Since(start), false
	}
}

// WaitReady polls url until it answers 200, exited is closed, or d passes.
func WaitReady(ctx context.Context, url string, d time.Duration, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return fmt.Errorf("%s: the process exited", url)
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready: %w", url, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
