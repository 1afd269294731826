package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a child process (simulator or gateway) pinned to one CPU, its
// output in a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// startPinned runs bin with args under `taskset -c cpu`; taskset execs
// bin, so the PID is bin's.
func startPinned(dir, name string, cpu int, bin string, args ...string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, log: logPath, done: make(chan struct{}),
		cmd: exec.Command("taskset", append([]string{"-c", strconv.Itoa(cpu), bin}, args...)...)}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM, waits up to 5s, then SIGKILLs.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

// tail returns the last lines of the process's log, for error messages.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-15, 0):], "\n")
}

// waitHTTP polls url until it answers 200, the process exits, or 15s pass.
func (p *proc) waitHTTP(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
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
		case <-p.done:
			return fmt.Errorf("%s exited before %s answered:\n%s", p.name, url, p.tail())
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not ready: %w", p.name, url, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// buildDsgate builds the module's dsgate binary into dir; run from the
// repository root.
func buildDsgate(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "dsgate")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/dsgate/dsgate/cmd/dsgate")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build: %w", err)
	}
	return bin, nil
}

// clkTck is the kernel's clock-tick rate for /proc/PID/stat.
func clkTck() int {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if n, err2 := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && err2 == nil && n > 0 {
		return n
	}
	return 100
}

// cpuTime returns utime+stime of a process, all threads, from
// /proc/PID/stat (fields 14 and 15, counted after the command name).
func cpuTime(pid, tck int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime", pid)
	}
	return time.Duration((ut + st) * int64(time.Second) / int64(tck)), nil
}

// coreTimes are one CPU's jiffies from /proc/stat: all, and all but idle
// and iowait.
type coreTimes struct{ total, busy int64 }

func readCore(cpu int) (coreTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return coreTimes{}, err
	}
	name := []byte("cpu" + strconv.Itoa(cpu))
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		f := bytes.Fields(line)
		if len(f) < 9 || !bytes.Equal(f[0], name) {
			continue
		}
		var t coreTimes
		for j, x := range f[1:9] { // user nice system idle iowait irq softirq steal
			v, _ := strconv.ParseInt(string(x), 10, 64)
			t.total += v
			if j != 3 && j != 4 {
				t.busy += v
			}
		}
		return t, nil
	}
	return coreTimes{}, fmt.Errorf("/proc/stat: no %s", name)
}
