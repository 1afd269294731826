// Package s3 is the object-store tier of the response cache, for any
// S3-compatible service (AWS S3, MinIO, Ceph RGW, R2, ...).
//
// Layout, under a configurable prefix (default "dsgate/cache/"):
//
//	<prefix>e/<hex key>            the entry envelope; its expiry also in
//	                               the x-amz-meta-dsgate-expires header
//	<prefix>m/<model>/<hex key>    a 1-byte marker, so a purge by model
//	                               lists one prefix instead of every object
//
// The expiry is enforced on read (an expired object is deleted then).
// Objects nobody reads again are not swept by dsgate: give the bucket a
// lifecycle rule that expires objects under the prefix after the TTL.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/dsgate/dsgate/internal/cache"
)

// Defaults.
const (
	DefaultPrefix = "dsgate/cache/"
	DefaultTTL    = 7 * 24 * time.Hour
	metaExpires   = "Dsgate-Expires" // sent as X-Amz-Meta-Dsgate-Expires
	metaModel     = "Dsgate-Model"
	// DefaultReadTimeout bounds the wait for one read when the tier's
	// timeout is not configured. An object store read is an HTTP round
	// trip (S3 quotes 100-200 ms to first byte) and, on a new
	// connection, a TCP and TLS handshake; 50 ms, right for Redis, made
	// stored entries misses.
	DefaultReadTimeout = 500 * time.Millisecond
)

// Options configure the S3 tier.
type Options struct {
	// Client is required, built by the caller with minio.New (endpoint,
	// credentials, TLS). Its transport timeouts should be short.
	Client *minio.Client
	// Bucket must exist.
	Bucket string
	// Prefix of every object name; default "dsgate/cache/".
	Prefix string
	// TTL is the default lifetime; default 7 days.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Store is the S3 tier.
type Store struct {
	c        *minio.Client
	bucket   string
	prefix   string
	ttl      time.Duration
	now      func() time.Time
	counters cache.Counters
}

var _ cache.Store = (*Store)(nil)

// New returns an S3 tier. It does no I/O.
func New(o Options) (*Store, error) {
	if o.Client == nil {
		return nil, errors.New("s3 cache: nil client")
	}
	if o.Bucket == "" {
		return nil, errors.New("s3 cache: empty bucket")
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{c: o.Client, bucket: o.Bucket, prefix: o.Prefix, ttl: o.TTL, now: o.Now}, nil
}

// ReadTimeout is DefaultReadTimeout (cache.ReadTimeouter).
func (s *Store) ReadTimeout() time.Duration { return DefaultReadTimeout }

// Warm checks the bucket, which opens a connection to the service so the
// first read does not pay for it (cache.Warmer).
func (s *Store) Warm(ctx context.Context) error {
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	if !ok {
		return fmt.Errorf("s3: bucket %q does not exist", s.bucket)
	}
	return nil
}

// Name returns "s3".
func (s *Store) Name() string { return "s3" }

func (s *Store) entryName(k cache.Key) string { return s.prefix + "e/" + k.String() }

func (s *Store) modelPrefix(model string) string {
	return s.prefix + "m/" + url.PathEscape(model) + "/"
}

// Get returns the entry or cache.ErrMiss.
func (s *Store) Get(ctx context.Context, key cache.Key) (cache.Entry, error) {
	name := s.entryName(key)
	obj, err := s.c.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return cache.Entry{}, s.counters.Observe(s.classify(err))
	}
	defer obj.Close()
	info, err := obj.Stat()
	if err != nil {
		return cache.Entry{}, s.counters.Observe(s.classify(err))
	}
	if exp, err := strconv.ParseInt(info.UserMetadata[metaExpires], 10, 64); err == nil &&
		!s.now().Before(time.Unix(0, exp)) {
		_ = s.c.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
		return cache.Entry{}, s.counters.Observe(cache.ErrMiss)
	}
	b, err := io.ReadAll(obj)
	if err != nil {
		return cache.Entry{}, s.counters.Observe(s.classify(err))
	}
	e, err := cache.UnmarshalEntry(b)
	if err != nil {
		return cache.Entry{}, s.counters.Observe(fmt.Errorf("s3 get: %w", err))
	}
	s.counters.Observe(nil)
	return e, nil
}

// classify turns "no such key" into cache.ErrMiss and wraps the rest.
func (s *Store) classify(err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return cache.ErrMiss
	}
	return fmt.Errorf("s3: %w", err)
}

// Set uploads the entry and its model marker.
func (s *Store) Set(ctx context.Context, key cache.Key, e cache.Entry, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = s.ttl
	}
	expires := s.now().Add(ttl)
	val := cache.MarshalEntry(e, expires)
	_, err := s.c.PutObject(ctx, s.bucket, s.entryName(key), bytes.NewReader(val), int64(len(val)),
		minio.PutObjectOptions{
			ContentType: "application/octet-stream",
			UserMetadata: map[string]string{
				metaExpires: strconv.FormatInt(expires.UnixNano(), 10),
				metaModel:   url.PathEscape(e.Model),
			},
		})
	if err == nil {
		_, err = s.c.PutObject(ctx, s.bucket, s.modelPrefix(e.Model)+key.String(), strings.NewReader("1"), 1,
			minio.PutObjectOptions{})
	}
	if err != nil {
		err = fmt.Errorf("s3 put: %w", err)
	}
	return s.counters.ObserveWrite(err)
}

// Delete removes one entry; its model marker stays, which is harmless.
func (s *Store) Delete(ctx context.Context, key cache.Key) error {
	err := s.c.RemoveObject(ctx, s.bucket, s.entryName(key), minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return s.counters.Error(fmt.Errorf("s3 delete: %w", err))
	}
	return nil
}

// Purge removes a model's entries (listing its markers) or, with the zero
// Filter, every object under the prefix. The count is of entries removed.
func (s *Store) Purge(ctx context.Context, f cache.Filter) (int, error) {
	listPrefix := s.prefix
	if f.Model != "" {
		listPrefix = s.modelPrefix(f.Model)
	}
	var names []string
	removed := 0
	for obj := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: listPrefix, Recursive: true}) {
		if obj.Err != nil {
			return 0, s.counters.Error(fmt.Errorf("s3 list: %w", obj.Err))
		}
		names = append(names, obj.Key)
		if f.Model == "" {
			if strings.HasPrefix(obj.Key, s.prefix+"e/") {
				removed++
			}
			continue
		}
		hexKey := obj.Key[len(listPrefix):]
		entry := s.prefix + "e/" + hexKey
		if _, err := s.c.StatObject(ctx, s.bucket, entry, minio.StatObjectOptions{}); err == nil {
			removed++
			names = append(names, entry)
		}
	}
	if err := s.remove(ctx, names); err != nil {
		return 0, s.counters.Error(err)
	}
	return removed, nil
}

func (s *Store) remove(ctx context.Context, names []string) error {
	ch := make(chan minio.ObjectInfo)
	go func() {
		defer close(ch)
		for _, n := range names {
			select {
			case ch <- minio.ObjectInfo{Key: n}:
			case <-ctx.Done():
				return
			}
		}
	}()
	var errs []error
	for rerr := range s.c.RemoveObjects(ctx, s.bucket, ch, minio.RemoveObjectsOptions{}) {
		errs = append(errs, fmt.Errorf("s3 remove %s: %w", rerr.ObjectName, rerr.Err))
	}
	return errors.Join(errs...)
}

// Stats reports counters; Entries and Bytes are -1 (unknown without I/O).
func (s *Store) Stats() cache.TierStats { return s.counters.Stats(s.Name()) }
