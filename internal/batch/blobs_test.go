package batch_test

import (
	"testing"

	"github.com/dsgate/dsgate/internal/batch"
	"github.com/dsgate/dsgate/internal/batch/blobtest"
)

func TestDiskBlobs(t *testing.T) {
	t.Parallel()
	d, err := batch.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, d)
}
