package config

import (
	"cmp"
	"time"
)

// Cache configures the response cache. Only answers that are safe to reuse
// are cached by default: temperature 0 or a fixed seed, complete, no
// error. Clients opt out per request with Cache-Control: no-store, or
// refresh an entry with no-cache; answers carry x-dsgate-cache.
type Cache struct {
	// Enabled turns the cache on.
	Enabled bool `yaml:"enabled"`
	// Shared lets all callers share entries; by default each key or client
	// has its own.
	Shared bool `yaml:"shared"`
	// Memory is the first tier; always on when the cache is.
	Memory CacheMemory `yaml:"memory"`
	// Redis is shared by replicas; it uses the top-level redis server.
	Redis CacheTier `yaml:"redis"`
	// Disk is a local Pebble store that survives restarts.
	Disk CacheDisk `yaml:"disk"`
	// S3 is any S3-compatible object store.
	S3 CacheS3 `yaml:"s3"`
}

// CacheMemory is the in-process tier (W-TinyLFU, bounded in bytes).
type CacheMemory struct {
	// MaxBytes bounds the heap the tier keeps, to within a few per cent:
	// its answers (with the allocator's rounding) and about 384 bytes of
	// bookkeeping each. Default 64 MiB.
	MaxBytes uint64 `yaml:"max_bytes"`
	// TTL of entries. Default 5m.
	TTL time.Duration `yaml:"ttl"`
}

// CacheTier is a remote tier's switch and limits.
type CacheTier struct {
	// Enabled turns the tier on.
	Enabled bool `yaml:"enabled"`
	// TTL of entries. Defaults: redis 1h, disk 24h, s3 7 days.
	TTL time.Duration `yaml:"ttl"`
	// Timeout bounds the wait for one read, so a slow tier never slows a
	// request more than this; a read that answers later is promoted to the
	// tiers above for the next request. Default sized to the tier: 50ms
	// for redis and disk, 500ms for s3 (an HTTP round trip, a TLS
	// handshake on a new connection).
	Timeout time.Duration `yaml:"timeout"`
}

// CacheDisk is the Pebble tier.
type CacheDisk struct {
	CacheTier `yaml:",inline"`
	// Dir of the Pebble store. Default dsgate-data/cache.
	Dir string `yaml:"dir"`
}

// CacheS3 is the S3 tier.
type CacheS3 struct {
	CacheTier `yaml:",inline"`
	// Endpoint is host:port of the S3 service.
	Endpoint string `yaml:"endpoint"`
	// Bucket to use; it must exist. Give it a lifecycle rule: expired
	// entries are deleted only when read.
	Bucket string `yaml:"bucket"`
	// Prefix of object names. Default dsgate/cache/.
	Prefix string `yaml:"prefix"`
	// Region of the bucket, if the service needs one.
	Region string `yaml:"region"`
	// Secure uses HTTPS.
	Secure bool `yaml:"secure"`
	// AccessKey and SecretKey, as secret references.
	AccessKey Secret `yaml:"access_key"`
	// SecretKey, as a secret reference.
	SecretKey Secret `yaml:"secret_key"`
}

// ModelCache is a model's own cache policy.
type ModelCache struct {
	// Disabled keeps this model out of the cache.
	Disabled bool `yaml:"disabled"`
	// AllowSampled also caches sampled requests (temperature above 0, no
	// seed): one of many possible answers is then served again.
	AllowSampled bool `yaml:"allow_sampled"`
	// Version goes into cache keys; change it when the model behind the
	// name changes.
	Version string `yaml:"version"`
}

func (c *Config) normalizeCache() {
	k := &c.Cache
	k.Memory.MaxBytes = cmp.Or(k.Memory.MaxBytes, 64<<20)
	k.Memory.TTL = cmp.Or(k.Memory.TTL, 5*time.Minute)
	k.Redis.TTL = cmp.Or(k.Redis.TTL, time.Hour)
	k.Disk.TTL = cmp.Or(k.Disk.TTL, 24*time.Hour)
	k.S3.TTL = cmp.Or(k.S3.TTL, 7*24*time.Hour)
	k.Redis.Timeout = cmp.Or(k.Redis.Timeout, 50*time.Millisecond)
	k.Disk.Timeout = cmp.Or(k.Disk.Timeout, 50*time.Millisecond)
	k.S3.Timeout = cmp.Or(k.S3.Timeout, 500*time.Millisecond)
	k.Disk.Dir = cmp.Or(k.Disk.Dir, "dsgate-data/cache")
	k.S3.Prefix = cmp.Or(k.S3.Prefix, "dsgate/cache/")
}

func (c *Config) validateCache(add func(path, format string, args ...any)) {
	k := c.Cache
	if !k.Enabled {
		return
	}
	if k.Redis.Enabled && c.Redis.Addr == "" {
		add("cache.redis", "needs redis.addr")
	}
	if k.S3.Enabled && (k.S3.Endpoint == "" || k.S3.Bucket == "") {
		add("cache.s3", "needs endpoint and bucket")
	}
}
