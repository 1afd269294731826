package s3_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/dsgate/dsgate/internal/batch/blobtest"
	batchs3 "github.com/dsgate/dsgate/internal/batch/s3"
)

// TestConformance runs the blob suite against a real S3-protocol server
// (gofakes3, in memory) on 127.0.0.1.
func TestConformance(t *testing.T) {
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4("k", "s", ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(context.Background(), "batches", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := batchs3.New(batchs3.Options{Client: c, Bucket: "batches"})
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, b)
}
