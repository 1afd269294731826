package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// cpuTime returns utime+stime of a process (all its threads), from
// /proc/PID/stat.
func cpuTime(pid, clkTck int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it start
	// past its closing parenthesis. utime and stime are fields 14 and 15.
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
	return time.Duration((ut + st) * int64(time.Second) / int64(clkTck)), nil
}

// peakRSS returns VmHWM of a process in KiB.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := bytes.Fields(v)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(string(f[0]), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
}

// procSample is what the watched processes have used so far, summed.
type procSample struct {
	cpu           time.Duration
	reads, writes int64 // read- and write-family system calls (/proc/PID/io)
}

func sampleProcs(pids []int, clkTck int) (procSample, error) {
	var sum procSample
	for _, pid := range pids {
		d, err := cpuTime(pid, clkTck)
		if err != nil {
			return sum, err
		}
		r, w, err := syscalls(pid)
		if err != nil {
			return sum, err
		}
		sum.cpu += d
		sum.reads += r
		sum.writes += w
	}
	return sum, nil
}

// syscalls returns syscr and syscw from /proc/PID/io: how many read- and
// write-family system calls the process made.
func syscalls(pid int) (reads, writes int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, 0, err
	}
	found := 0
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		k, v, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		switch string(k) {
		case "syscr":
			reads, err = strconv.ParseInt(string(v), 10, 64)
		case "syscw":
			writes, err = strconv.ParseInt(string(v), 10, 64)
		default:
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/io: %w", pid, err)
		}
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("/proc/%d/io: no syscr/syscw", pid)
	}
	return reads, writes, nil
}

// coreTimes are one CPU's busy and total jiffies from /proc/stat.
type coreTimes struct{ busy, total int64 }

// readCores returns the times of the given CPUs. Busy is everything but
// idle and iowait; steal counts as busy because the core was not ours.
func readCores(cores []int) ([]coreTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	out := make([]coreTimes, len(cores))
	found := 0
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		f := bytes.Fields(line)
		if len(f) < 9 || !bytes.HasPrefix(f[0], []byte("cpu")) || len(f[0]) == 3 {
			continue
		}
		n, err := strconv.Atoi(string(f[0][3:]))
		if err != nil {
			continue
		}
		for i, c := range cores {
			if c != n {
				continue
			}
			// user nice system idle iowait irq softirq steal
			var v [8]int64
			for j := range v {
				v[j], _ = strconv.ParseInt(string(f[j+1]), 10, 64)
			}
			var t coreTimes
			for j, x := range v {
				t.total += x
				if j != 3 && j != 4 {
					t.busy += x
				}
			}
			out[i] = t
			found++
		}
	}
	if found != len(cores) {
		return nil, fmt.Errorf("/proc/stat: found %d of cores %v", found, cores)
	}
	return out, nil
}
