package audit

import (
	"errors"
	"fmt"
)

// ErrSpoolLocked means another Writer (in this or another process) holds
// the spool directory.
var ErrSpoolLocked = errors.New("audit spool is locked by another writer")

// ErrUndelivered is returned by Close when records are still in the spool
// for some sink after the flush timeout. They are safe on disk and are
// delivered by the next Writer opened on the same spool directory.
var ErrUndelivered = errors.New("audit records left undelivered in the spool")

// SpoolLockedError is ErrSpoolLocked with the lock file and the process
// id its holder recorded: almost always another dsgate instance started
// with the same audit.dir.
type SpoolLockedError struct {
	Lock string // the spool's LOCK file
	PID  int    // the holder's process id; 0 if it did not record one
}

// Error says that an instance is already running and what to do.
func (e *SpoolLockedError) Error() string {
	who := "another dsgate instance"
	if e.PID > 0 {
		who = fmt.Sprintf("another dsgate instance (pid %d)", e.PID)
	}
	return fmt.Sprintf("%s is already running with this audit directory: it holds the audit spool lock %s; "+
		"stop it first, or give this instance its own audit.dir", who, e.Lock)
}

// Unwrap lets errors.Is(err, ErrSpoolLocked) match.
func (e *SpoolLockedError) Unwrap() error { return ErrSpoolLocked }
