package store

import "errors"

// ErrNotFound reports that the requested record does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict reports that a record with the same identifier already exists.
var ErrConflict = errors.New("already exists")

// ErrUnavailable reports that the store's backend cannot be reached (a
// refused, timed-out or known-down connection), as opposed to a record
// that is missing or a statement that failed. Callers answer 503: the
// request may succeed once the backend is back.
var ErrUnavailable = errors.New("store unavailable")

// ErrInvalidData reports that the backend refused a value it cannot hold
// (PostgreSQL's data exceptions, SQLSTATE class 22: NUL or invalid UTF-8
// in text, a number out of range). Retrying the same value cannot succeed.
var ErrInvalidData = errors.New("value refused by the store")
