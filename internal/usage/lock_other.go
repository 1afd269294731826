//go:build !unix

package usage

import "os"

// lockFile does nothing where flock is missing: run one process per
// journal.
func lockFile(*os.File) error { return nil }
