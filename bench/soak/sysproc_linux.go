package main

import "syscall"

// sysProcAttr makes a child die with this program, so no simulator or
// gateway outlives an interrupted run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
