//go:build !linux

package main

import (
	"errors"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// pinSelf needs Linux's sched_setaffinity.
func pinSelf(int) error { return errors.New("pinning the load generator needs Linux") }
