//go:build unix

package server

import "syscall"

// nofileLimit is the process's file descriptor limit (RLIMIT_NOFILE's
// soft limit, which Go raises to the hard limit at start); 0 if unknown.
func nofileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return uint64(l.Cur)
}
