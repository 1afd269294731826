//go:build unix

package httpapi_test

import "syscall"

// processCPU is the CPU time (user + system) the process used so far, in
// nanoseconds: on a shared machine it measures dsgate's own work far more
// steadily than wall time.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
