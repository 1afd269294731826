package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/dsgate/dsgate/bench/benchkit"
)

// sim is a `dsgate sim` on a fixed port, which the chaos loop kills and
// starts again.
type sim struct {
	name, addr, logs string
	args             []string
	p                *benchkit.Child
}

func (s *sim) start(ctx context.Context, bin string) error {
	p, err := benchkit.StartChild(bin, filepath.Join(s.logs, s.name+".log"), append([]string{"sim", "--addr", s.addr}, s.args...)...)
	if err != nil {
		return err
	}
	s.p = p
	return benchkit.WaitReady(ctx, "http://"+s.addr+"/health", 15*time.Second, p.Done())
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
