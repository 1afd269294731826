//go:build unix

package usage

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f, so one process at a time
// applies a journal. The kernel releases it when the process dies.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return ErrJournalLocked
	}
	return err
}
