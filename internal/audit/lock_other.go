//go:build !unix

package audit

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir only creates dir/LOCK: platforms without flock get no protection
// against two Writers on one spool.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("opening spool lock: %w", err)
	}
	return f, nil
}

func unlockDir(f *os.File) error { return f.Close() }
