// Package s3 keeps Batch API files (uploaded input, output and error
// files) in an S3-compatible object store, so that every replica sees
// them. Objects are named <prefix><file id>; the default prefix is
// "dsgate/batch/".
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/minio/minio-go/v7"

	"github.com/dsgate/dsgate/internal/batch"
)

// DefaultPrefix starts every object name.
const DefaultPrefix = "dsgate/batch/"

// Options configure the store.
type Options struct {
	// Client is required, built by the caller with minio.New.
	Client *minio.Client
	// Bucket must exist.
	Bucket string
	// Prefix of every object name; default "dsgate/batch/".
	Prefix string
}

// Blobs stores batch files as objects.
type Blobs struct {
	c      *minio.Client
	bucket string
	prefix string
}

var _ batch.Blobs = (*Blobs)(nil)

// New returns the store. It does no I/O.
func New(o Options) (*Blobs, error) {
	if o.Client == nil || o.Bucket == "" {
		return nil, errors.New("batch s3: client and bucket are required")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	return &Blobs{c: o.Client, bucket: o.Bucket, prefix: o.Prefix}, nil
}

// Put spools r to a temporary file, so the size is known and checked
// before anything is sent, then uploads it; S3 makes the object visible
// only once it is complete.
func (b *Blobs) Put(ctx context.Context, name string, r io.Reader, limit int64) (int64, error) {
	tmp, err := os.CreateTemp("", "dsgate-batch-*")
	if err != nil {
		return 0, fmt.Errorf("spooling %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	src := r
	if limit > 0 {
		src = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(tmp, src)
	if err != nil {
		return 0, fmt.Errorf("spooling %s: %w", name, err)
	}
	if limit > 0 && n > limit {
		return 0, batch.ErrTooLarge
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return 0, fmt.Errorf("spooling %s: %w", name, err)
	}
	if _, err := b.c.PutObject(ctx, b.bucket, b.prefix+name, tmp, n,
		minio.PutObjectOptions{ContentType: "application/jsonl"}); err != nil {
		return 0, fmt.Errorf("uploading %s: %w", name, err)
	}
	return n, nil
}

// Open downloads the object.
func (b *Blobs) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	obj, err := b.c.GetObject(ctx, b.bucket, b.prefix+name, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, fmt.Errorf("%s: %w", name, batch.ErrBlobNotFound)
		}
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	return obj, nil
}

// Delete removes the object; S3 reports no error for a missing one.
func (b *Blobs) Delete(ctx context.Context, name string) error {
	if err := b.c.RemoveObject(ctx, b.bucket, b.prefix+name, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}
