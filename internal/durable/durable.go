package durable

import "os"

// Sync makes what was written to f durable, data and metadata, as
// f.Sync does, and returns what f.Sync would. See the package comment
// for how it waits.
func Sync(f *os.File) error { return syncFile(f) }
