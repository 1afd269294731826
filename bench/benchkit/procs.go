// Package benchkit holds what the benchmark programs share: starting
// pinned processes, waiting for them, and reading CPU time from /proc.
package benchkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

// Proc is a child process (simulator or gateway) pinned to one CPU, its
// output in a log file.
type Proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// StartPinned runs bin with args under `taskset -c cpu`; taskset execs
// bin, so the PID is bin's.
func StartPinned(dir, name string, cpu int, bin string, args ...string) (*Proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &Proc{name: name, log: logPath, done: make(chan struct{}),
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

func (p *Proc) PID() int { return p.cmd.Process.Pid }

// stop sends SIGTERM, waits up to 5s, then SIGKILLs.
func (p *Proc) Stop() {
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
func (p *Proc) Tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-15, 0):], "\n")
}

// waitHTTP polls url until it answers 200, the process exits, or 15s pass.
func (p *Proc) WaitHTTP(ctx context.Context, url string) error {
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
			return fmt.Errorf("%s exited before %s answered:\n%s", p.name, url, p.Tail())
		case <-ctx.Done():
			return fmt.Errorf("%s: %s not ready: %w", p.name, url, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FreeAddr returns a loopback address nothing listens on right now.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// Build builds the module's package pkg (e.g. ./cmd/dsgate) into dir/name;
// run from the repository root.
func Build(ctx context.Context, dir, name, pkg string) (string, error) {
	bin := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go Build: %w", err)
	}
	return bin, nil
}

// BuildDsgate builds the module's dsgate binary into dir.
func BuildDsgate(ctx context.Context, dir string) (string, error) {
	return Build(ctx, dir, "dsgate", "github.com/dsgate/dsgate/cmd/dsgate")
}

// RunCopy copies the executable src to dir/name and returns its path. A
// harness that reports a proxy's memory runs copies: a file the Go linker
// has just written sits in the page cache in large folios, and a process
// mapping it counts whole folios as resident (measured: 44 MB of file
// pages against 29 MB for a copy of the same binary), which made peak RSS
// depend on how the file was written.
func RunCopy(src, dir, name string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	dst := filepath.Join(dir, name)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return "", err
	}
	return dst, out.Close()
}

// ClkTck is the kernel's clock-tick rate for /proc/PID/stat.
func ClkTck() int {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if n, err2 := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && err2 == nil && n > 0 {
		return n
	}
	return 100
}

// CPUTime returns utime+stime of a process, all threads, from
// /proc/PID/stat (fields 14 and 15, counted after the command name).
func CPUTime(pid, tck int) (time.Duration, error) {
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

// CoreTimes are one CPU's jiffies from /proc/stat: all, and all but idle
// and iowait.
type CoreTimes struct{ Total, Busy int64 }

func ReadCore(cpu int) (CoreTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return CoreTimes{}, err
	}
	name := []byte("cpu" + strconv.Itoa(cpu))
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		f := bytes.Fields(line)
		if len(f) < 9 || !bytes.Equal(f[0], name) {
			continue
		}
		var t CoreTimes
		for j, x := range f[1:9] { // user nice system idle iowait irq softirq steal
			v, _ := strconv.ParseInt(string(x), 10, 64)
			t.Total += v
			if j != 3 && j != 4 {
				t.Busy += v
			}
		}
		return t, nil
	}
	return CoreTimes{}, fmt.Errorf("/proc/stat: no %s", name)
}
