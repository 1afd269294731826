package e2e

import "syscall"

// sysProcAttr makes a child process die with the test binary, so no
// simulator or gateway outlives a crashed or timed-out test run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
