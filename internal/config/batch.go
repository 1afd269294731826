package config

import (
	"cmp"
	"time"
)

// Batch configures the synchronous batch endpoint (POST /v1/batch) and
// OpenAI's Files and Batch APIs (/v1/files, /v1/batches).
type Batch struct {
	// MaxItems bounds the requests of one POST /v1/batch. Default 100.
	MaxItems int `yaml:"max_items"`
	// MaxBodyBytes bounds the body of POST /v1/batch. Default 8 MiB; it
	// cannot exceed server.max_body_bytes, which applies first.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Concurrency bounds the items of one POST /v1/batch run at once.
	// Default 8.
	Concurrency int `yaml:"concurrency"`
	// API enables the Files and Batch APIs. Jobs are kept in the store
	// (store.dsn) and resumed after a restart. Off by default: it needs a
	// store and a directory for files.
	API *bool `yaml:"api"`
	// Dir holds uploaded and produced files. Default dsgate-batches (next
	// to a relative store.dsn, in the working directory).
	Dir string `yaml:"dir"`
	// Workers bounds the Batch API requests in flight, across all jobs.
	// Default 8.
	Workers int `yaml:"workers"`
	// MaxFileBytes bounds an uploaded file. Default 200 MiB (OpenAI's
	// limit). Uploads also pass server.max_body_bytes: the HTTP API must
	// exempt /v1/files from it or it must be raised.
	MaxFileBytes int64 `yaml:"max_file_bytes"`
	// MaxLines bounds the requests of one batch. Default 50000.
	MaxLines int `yaml:"max_lines"`
	// FileTTL is how long files are kept. Default 720h (30 days).
	FileTTL time.Duration `yaml:"file_ttl"`
	// PollInterval is how often the store is checked for jobs created or
	// cancelled by another replica. Default 1s.
	PollInterval time.Duration `yaml:"poll_interval"`
	// UploadsPerMinute bounds the file uploads of one key or client on
	// one replica (429 beyond). Default 30; -1 unlimited.
	UploadsPerMinute int `yaml:"uploads_per_minute"`
	// MaxStoredBytes bounds the total size of one key's or client's
	// unexpired files, uploads and batch outputs together (400
	// storage_quota_exceeded beyond). Default 2 GiB; -1 unlimited.
	MaxStoredBytes int64 `yaml:"max_stored_bytes"`
	// S3, when enabled, keeps the files in an S3-compatible object store
	// instead of Dir, so every replica sees them.
	S3 BatchS3 `yaml:"s3"`
}

// BatchS3 is the object store for Batch API files.
type BatchS3 struct {
	Enabled bool `yaml:"enabled"`
	// Endpoint is host:port of the S3 service.
	Endpoint string `yaml:"endpoint"`
	// Bucket to use; it must exist.
	Bucket string `yaml:"bucket"`
	// Prefix of object names. Default dsgate/batch/.
	Prefix string `yaml:"prefix"`
	// Region of the bucket, if the service needs one.
	Region string `yaml:"region"`
	// Secure uses HTTPS.
	Secure bool `yaml:"secure"`
	// AccessKey and SecretKey, as secret references.
	AccessKey Secret `yaml:"access_key"`
	SecretKey Secret `yaml:"secret_key"`
}

// APIEnabled reports whether the Files and Batch APIs are served.
func (b Batch) APIEnabled() bool { return b.API != nil && *b.API }

// normalize fills the defaults. Call it from Config.normalize as
// c.Batch.normalize().
func (b *Batch) normalize() {
	b.MaxItems = cmp.Or(b.MaxItems, 100)
	b.MaxBodyBytes = cmp.Or(b.MaxBodyBytes, 8<<20)
	b.Concurrency = cmp.Or(b.Concurrency, 8)
	b.Dir = cmp.Or(b.Dir, "dsgate-batches")
	b.Workers = cmp.Or(b.Workers, 8)
	b.MaxFileBytes = cmp.Or(b.MaxFileBytes, 200<<20)
	b.MaxLines = cmp.Or(b.MaxLines, 50000)
	b.FileTTL = cmp.Or(b.FileTTL, 720*time.Hour)
	b.PollInterval = cmp.Or(b.PollInterval, time.Second)
	b.S3.Prefix = cmp.Or(b.S3.Prefix, "dsgate/batch/")
}

// validate reports problems through add, Validate's collector. Call it as
// c.Batch.validate(add).
func (b Batch) validate(add func(path, format string, args ...any)) {
	if b.MaxItems < 1 || b.MaxItems > 10000 {
		add("batch.max_items", "must be between 1 and 10000")
	}
	if b.MaxBodyBytes < 1024 {
		add("batch.max_body_bytes", "must be at least 1024")
	}
	if b.Concurrency < 1 {
		add("batch.concurrency", "must be at least 1")
	}
	if b.Workers < 1 {
		add("batch.workers", "must be at least 1")
	}
	if b.UploadsPerMinute < -1 || b.MaxStoredBytes < -1 {
		add("batch", "uploads_per_minute and max_stored_bytes must be -1 (unlimited), 0 (default) or positive")
	}
	if b.MaxFileBytes < 1024 {
		add("batch.max_file_bytes", "must be at least 1024")
	}
	if b.MaxLines < 1 {
		add("batch.max_lines", "must be at least 1")
	}
	if b.FileTTL < time.Hour {
		add("batch.file_ttl", "must be at least 1h")
	}
	if b.PollInterval < 10*time.Millisecond {
		add("batch.poll_interval", "must be at least 10ms")
	}
	if b.S3.Enabled && (b.S3.Endpoint == "" || b.S3.Bucket == "") {
		add("batch.s3", "endpoint and bucket are required when enabled")
	}
}
