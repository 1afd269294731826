package store

import "errors"

// ErrNotFound reports that the requested record does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict reports that a record with the same identifier already exists.
var ErrConflict = errors.New("already exists")
