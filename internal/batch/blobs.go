package batch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dsgate/dsgate/internal/durable"
)

// ErrBlobNotFound is returned by Blobs.Open for a missing blob.
var ErrBlobNotFound = errors.New("blob not found")

// Blobs holds file contents by name. Implementations are safe for
// concurrent use; Put replaces a blob atomically (readers see the old or
// the new content, never a part).
type Blobs interface {
	// Put stores r's content under name and returns its size. It stops with
	// an error after limit bytes when limit > 0.
	Put(ctx context.Context, name string, r io.Reader, limit int64) (int64, error)
	// Open returns the content; the caller closes it. A missing blob is
	// ErrBlobNotFound.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Delete removes the blob; a missing blob is not an error.
	Delete(ctx context.Context, name string) error
}

// ErrTooLarge is returned by Put when the content exceeds its limit.
var ErrTooLarge = errors.New("content exceeds the size limit")

// Disk stores blobs as files in a directory.
type Disk struct{ dir string }

var _ Blobs = (*Disk)(nil)

// NewDisk returns blobs under dir, creating it.
func NewDisk(dir string) (*Disk, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating batch file directory: %w", err)
	}
	return &Disk{dir: dir}, nil
}

func (d *Disk) path(name string) (string, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return "", fmt.Errorf("invalid blob name %q", name)
	}
	return filepath.Join(d.dir, name), nil
}

// Put writes to a temporary file, syncs it and renames it into place.
func (d *Disk) Put(_ context.Context, name string, r io.Reader, limit int64) (int64, error) {
	p, err := d.path(name)
	if err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(d.dir, ".tmp-"+name+"-*")
	if err != nil {
		return 0, fmt.Errorf("creating blob: %w", err)
	}
	defer os.Remove(f.Name()) // after a successful rename there is nothing to remove
	src := r
	if limit > 0 {
		src = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(f, src)
	if err == nil && limit > 0 && n > limit {
		err = ErrTooLarge
	}
	if err == nil {
		err = durable.Sync(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("writing blob %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return 0, fmt.Errorf("placing blob %s: %w", name, err)
	}
	return n, nil
}

// Open opens the blob's file.
func (d *Disk) Open(_ context.Context, name string) (io.ReadCloser, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrBlobNotFound)
	}
	return f, err
}

// Delete removes the blob's file.
func (d *Disk) Delete(_ context.Context, name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting blob %s: %w", name, err)
	}
	return nil
}
