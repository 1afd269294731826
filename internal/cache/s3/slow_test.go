package s3_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
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

// connectCost is what a new connection costs in these tests, standing in
// for the TCP and TLS handshakes to a remote object store.
const connectCost = 150 * time.Millisecond

// slowListener delays each accepted connection by connectCost.
type slowListener struct {
	net.Listener
	accepted atomic.Int32
}

func (l *slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
		time.Sleep(connectCost)
	}
	return c, err
}

// slowS3 is a gofakes3 server whose new connections cost connectCost, and
// a store on it (through a fresh client, so no connection is open yet)
// holding one entry. It returns the store, the entry's key and the
// listener, whose count of accepted connections tells when one is open.
func slowS3(t *testing.T) (*caches3.Store, cache.Key, *slowListener) {
	t.Helper()
	srv := httptest.NewUnstartedServer(gofakes3.New(s3mem.New()).Server())
	ln := &slowListener{Listener: srv.Listener}
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	client := func() *minio.Client {
		c, err := minio.New(u.Host, &minio.Options{
			Creds:  credentials.NewStaticV4("test-access", "test-secret", ""),
			Region: "us-east-1",
			// A transport of its own: no connection shared between clients.
			Transport: &http.Transport{},
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := context.Background()
	writer := client()
	if err := writer.MakeBucket(ctx, "cache", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := caches3.New(caches3.Options{Client: writer, Bucket: "cache"})
	if err != nil {
		t.Fatal(err)
	}
	key := cachetest.SampleKey(t, 7)
	if err := w.Set(ctx, key, cachetest.SampleEntry("deepseek-chat", 7), time.Hour); err != nil {
		t.Fatal(err)
	}
	r, err := caches3.New(caches3.Options{Client: client(), Bucket: "cache"})
	if err != nil {
		t.Fatal(err)
	}
	return r, key, ln
}

// memoryAndS3 is a Tiered cache of a memory tier over s (with timeout,
// zero meaning the tier's default).
func memoryAndS3(t *testing.T, s cache.Store, timeout time.Duration) *cache.Tiered {
	t.Helper()
	mem, err := cache.NewMemory(cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mem.Close() })
	tc, err := cache.NewTiered(cache.TieredOptions{Tiers: []cache.Tier{
		{Store: mem, Inline: true},
		{Store: s, Timeout: timeout},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// A stored entry is a hit on the tier's first read, which opens a
// connection: the S3 tier's default read timeout is sized to an object
// store, not to Redis.
func TestS3FirstReadOnNewConnectionHits(t *testing.T) {
	t.Parallel()
	s, key, _ := slowS3(t)
	tc := memoryAndS3(t, s, 0)
	h, err := tc.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("first read of a stored entry: %v (stats %+v)", err, tc.Stats())
	}
	if h.Tier != "s3" {
		t.Errorf("hit from %q, want s3", h.Tier)
	}
}

// A read that answers after the request stopped waiting is not wasted:
// the entry is promoted, and the next identical request hits memory.
func TestS3LateReadIsPromoted(t *testing.T) {
	t.Parallel()
	s, key, _ := slowS3(t)
	tc := memoryAndS3(t, s, 20*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tc.Run(ctx)
	if _, err := tc.Get(context.Background(), key); err == nil {
		t.Fatal("the first read beat a 20ms timeout over a 150ms connection; the test proves nothing")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		h, err := tc.Get(context.Background(), key)
		if err == nil && h.Tier == "memory" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the late read was not promoted: last %v %q, stats %+v", err, h.Tier, tc.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := tc.Stats()[1]; st.LateHits == 0 || st.Timeouts == 0 {
		t.Errorf("s3 stats = %+v, want timeouts and a late hit", st)
	}
}

// Run warms the S3 tier: once it has, a read within a tight timeout hits.
func TestS3WarmedAtStart(t *testing.T) {
	t.Parallel()
	s, key, ln := slowS3(t)
	before := ln.accepted.Load()
	tc := memoryAndS3(t, s, 50*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go tc.Run(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for ln.accepted.Load() == before {
		if time.Now().After(deadline) {
			t.Fatal("Run opened no connection to the S3 tier")
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(2 * connectCost) // the warming request completes
	if h, err := tc.Get(context.Background(), key); err != nil || h.Tier != "s3" {
		t.Fatalf("read after warming: %v %q, stats %+v", err, h.Tier, tc.Stats())
	}
}
