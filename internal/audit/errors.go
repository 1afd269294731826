package audit

import "errors"

// ErrSpoolLocked means another Writer (in this or another process) holds
// the spool directory.
var ErrSpoolLocked = errors.New("audit spool is locked by another writer")

// ErrUndelivered is returned by Close when records are still in the spool
// for some sink after the flush timeout. They are safe on disk and are
// delivered by the next Writer opened on the same spool directory.
var ErrUndelivered = errors.New("audit records left undelivered in the spool")
