package s3_test

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/cache/cachetest"
	caches3 "github.com/dsgate/dsgate/internal/cache/s3"
)

// newServer starts a real S3-protocol server (gofakes3, in-memory backend)
// on 127.0.0.1 and returns a client for it with the bucket created.
func newServer(t *testing.T) *minio.Client {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	c, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4("test-access", "test-secret", ""),
		Secure: false,
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(context.Background(), "cache", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return c
}

func newStore(t *testing.T, clock *cachetest.Clock) cache.Store {
	t.Helper()
	s, err := caches3.New(caches3.Options{Client: newServer(t), Bucket: "cache", TTL: time.Minute, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	cachetest.Run(t, newStore)
}

func TestS3ExpiryInMetadata(t *testing.T) {
	ctx := context.Background()
	c := newServer(t)
	clock := cachetest.NewClock(time.Now())
	s, err := caches3.New(caches3.Options{Client: c, Bucket: "cache", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	k := cachetest.SampleKey(t, 1)
	if err := s.Set(ctx, k, cachetest.SampleEntry("deepseek-chat", 1), time.Hour); err != nil {
		t.Fatal(err)
	}
	info, err := c.StatObject(ctx, "cache", caches3.DefaultPrefix+"e/"+k.String(), minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := clock.Now().Add(time.Hour).UnixNano()
	if got := info.UserMetadata["Dsgate-Expires"]; got != strconv.FormatInt(want, 10) {
		t.Errorf("x-amz-meta-dsgate-expires = %q, want %d", got, want)
	}
	clock.Advance(time.Hour)
	if _, err := s.Get(ctx, k); err != cache.ErrMiss {
		t.Fatalf("Get after expiry = %v, want ErrMiss", err)
	}
	// Delete-on-read removed the object.
	if _, err := c.StatObject(ctx, "cache", caches3.DefaultPrefix+"e/"+k.String(), minio.StatObjectOptions{}); err == nil {
		t.Error("expired object still stored")
	}
}
