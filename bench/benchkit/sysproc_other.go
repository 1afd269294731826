//go:build !linux

package benchkit

import (
	"errors"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// PinSelf needs Linux's sched_setaffinity.
func PinSelf(int) error { return errors.New("pinning the load generator needs Linux") }
