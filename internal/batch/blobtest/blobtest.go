// Package blobtest is the conformance suite every batch.Blobs passes.
package blobtest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/batch"
)

// Run checks put, replace, open, the size limit and delete on b.
func Run(t *testing.T, b batch.Blobs) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.Open(ctx, "file-missing"); !errors.Is(err, batch.ErrBlobNotFound) {
		t.Fatalf("missing blob: %v", err)
	}
	n, err := b.Put(ctx, "file-a", strings.NewReader("line 1\nline 2\n"), 0)
	if err != nil || n != 14 {
		t.Fatalf("put: %d %v", n, err)
	}
	if _, err := b.Put(ctx, "file-a", strings.NewReader("replaced\n"), 100); err != nil {
		t.Fatal(err)
	}
	rc, err := b.Open(ctx, "file-a")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "replaced\n" {
		t.Fatalf("content %q", got)
	}
	if _, err := b.Put(ctx, "file-big", strings.NewReader(strings.Repeat("x", 2000)), 1000); !errors.Is(err, batch.ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, err := b.Open(ctx, "file-big"); !errors.Is(err, batch.ErrBlobNotFound) {
		t.Fatalf("a refused blob is readable: %v", err)
	}
	if err := b.Delete(ctx, "file-a"); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, "file-a"); err != nil {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := b.Open(ctx, "file-a"); !errors.Is(err, batch.ErrBlobNotFound) {
		t.Fatalf("deleted blob: %v", err)
	}
}
