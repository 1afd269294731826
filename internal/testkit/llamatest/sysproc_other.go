//go:build !linux

package llamatest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
