package s3_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
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

// switchable is an S3 service that can fail: it answers 503 SlowDown, or
// hangs until restored, instead of serving.
type switchable struct {
	inner http.Handler
	mu    sync.Mutex
	mode  string        // "up", "503", "hang"
	back  chan struct{} // closed when restored from "hang"
}

func (s *switchable) set(mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mode == "hang" && s.back != nil {
		close(s.back)
	}
	s.mode, s.back = mode, make(chan struct{})
}

func (s *switchable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	mode, back := s.mode, s.back
	s.mu.Unlock()
	switch mode {
	case "503":
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`))
		return
	case "hang":
		select {
		case <-back:
		case <-r.Context().Done():
			return
		}
	}
	s.inner.ServeHTTP(w, r)
}

// An S3 outage (errors, or a service that stops answering) makes the tier
// a miss within its read timeout, then a skipped tier while it cools down;
// it shows in the tier's lookup counts, and the tier serves again once S3
// does, without a restart.
func TestS3TierOutageAndRecovery(t *testing.T) {
	t.Parallel()
	sw := &switchable{inner: gofakes3.New(s3mem.New()).Server(), mode: "up"}
	srv := httptest.NewServer(sw)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	mc, err := minio.New(u.Host, &minio.Options{
		Creds:  credentials.NewStaticV4("test-access", "test-secret", ""),
		Region: "us-east-1", // retries as configured by the server (minio default)
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := mc.MakeBucket(ctx, "cache", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := caches3.New(caches3.Options{Client: mc, Bucket: "cache"})
	if err != nil {
		t.Fatal(err)
	}
	tc, err := cache.NewTiered(cache.TieredOptions{Tiers: []cache.Tier{{Store: st}}})
	if err != nil {
		t.Fatal(err)
	}
	key := cachetest.SampleKey(t, 1)
	if err := st.Set(ctx, key, cachetest.SampleEntry("deepseek-chat", 1), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Get(ctx, key); err != nil {
		t.Fatalf("before the outage: %v", err)
	}
	// The tier's read timeout (500 ms) plus slack for a loaded machine.
	failFast := caches3.DefaultReadTimeout + 300*time.Millisecond
	for _, mode := range []string{"503", "hang"} {
		sw.set(mode)
		for i := range 8 {
			start := time.Now()
			_, err := tc.Get(ctx, key)
			if took := time.Since(start); took > failFast {
				t.Errorf("%s: lookup %d took %v, want under %v", mode, i, took, failFast)
			}
			if !errors.Is(err, cache.ErrMiss) {
				t.Errorf("%s: lookup %d = %v, want a miss", mode, i, err)
			}
		}
		l := tc.Lookups()[0]
		if l.Errors+l.Timeouts == 0 || l.Skipped == 0 {
			t.Errorf("%s: lookups %+v: the outage is not visible", mode, l)
		}
		sw.set("up")
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := tc.Get(ctx, key); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: the tier did not recover within 5s: %+v", mode, tc.Lookups())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
