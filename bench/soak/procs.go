package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is a running dsgate process (simulator or gateway) whose output is
// appended to a log file.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startProc(bin, logPath string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting dsgate %s: %w", strings.Join(args, " "), err)
	}
	go func() {
		p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits until the process is gone, so its port is
// free again.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// terminate sends SIGTERM and waits up to wait for the process to exit; it
// reports how long the exit took and whether it was clean (exit status 0).
// A process still running after wait is killed and reported as not clean.
func (p *proc) terminate(wait time.Duration) (took time.Duration, clean bool) {
	start := time.Now()
	if p.exited() {
		return 0, false
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return time.Since(start), p.cmd.ProcessState.Success()
	case <-time.After(wait):
		p.kill()
		return time.Since(start), false
	}
}

// sim is a `dsgate sim` on a fixed port, which the chaos loop kills and
// starts again.
type sim struct {
	name, addr, logs string
	args             []string
	p                *proc
}

func (s *sim) start(ctx context.Context, bin string) error {
	p, err := startProc(bin, filepath.Join(s.logs, s.name+".log"), append([]string{"sim", "--addr", s.addr}, s.args...)...)
	if err != nil {
		return err
	}
	s.p = p
	return waitHTTP(ctx, "http://"+s.addr+"/health", 15*time.Second, p.done)
}

// waitHTTP polls url until it answers 200, the process exits, or d passes.
func waitHTTP(ctx context.Context, url string, d time.Duration, exited <-chan struct{}) error {
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
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// rssBytes reads a process's resident set size from /proc/PID/status.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			var kb int64
			if _, err := fmt.Sscanf(string(bytes.TrimSpace(rest)), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("/proc/%d/status: bad VmRSS %q", pid, rest)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}
