package config

import (
	"cmp"
	"encoding/base64"
	"time"
)

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Disabled turns /metrics off.
	Disabled bool `yaml:"disabled"`
	// Listen serves /metrics on its own host:port (for example
	// 127.0.0.1:9090) instead of the API listener.
	Listen string `yaml:"listen"`
	// PrincipalLabel adds per-principal request and token counters. Off by
	// default: it grows with the number of keys and clients.
	PrincipalLabel bool `yaml:"principal_label"`
}

// Values of audit.full_policy.
const (
	AuditDropNew    = "drop_new"
	AuditDropOldest = "drop_oldest"
	// AuditBlockNewDeprecated is the old name of AuditDropNew (it never
	// blocked anything); accepted with a warning.
	AuditBlockNewDeprecated = "block_new"
)

// Audit configures the audit trail: one hash-chained record per request,
// spooled on disk and delivered to every sink in order, exactly once.
type Audit struct {
	// Enabled turns the audit trail on.
	Enabled bool `yaml:"enabled"`
	// Dir holds the spool and, by default, the JSON-lines files.
	// Default dsgate-data/audit.
	Dir string `yaml:"dir"`
	// File is the rotating JSON-lines sink; on unless disabled.
	File AuditFile `yaml:"file"`
	// Stdout also writes every record to standard output.
	Stdout bool `yaml:"stdout"`
	// Elasticsearch bulk-indexes records into daily indices
	// <index_prefix>YYYY.MM.dd when url is set.
	Elasticsearch AuditElasticsearch `yaml:"elasticsearch"`
	// IncludeBodies keeps prompt and answer text in records; otherwise only
	// their SHA-256 hashes are kept.
	IncludeBodies bool `yaml:"include_bodies"`
	// QueueSize is the in-memory queue in front of the spool. Default 8192.
	QueueSize int `yaml:"queue_size"`
	// MaxSpoolBytes bounds the disk spool. Default 1 GiB.
	MaxSpoolBytes int64 `yaml:"max_spool_bytes"`
	// FullPolicy when the spool is full: drop_new (drop new records,
	// counted, and keep the spooled ones; the default) or drop_oldest
	// (drop the oldest undelivered records). block_new is the deprecated
	// name of drop_new: still accepted, with a config check warning.
	FullPolicy string `yaml:"full_policy"`
	// ChainID names this replica's hash chain. Default: the host name.
	ChainID string `yaml:"chain_id"`
	// Checkpoints signs the audit file's head with a key held apart from
	// the audit files, so that `dsgate audit verify` with the public key
	// catches a cut tail or a recomputed chain. Off unless signing_key is
	// set; needs the file sink.
	Checkpoints AuditCheckpoints `yaml:"checkpoints"`
}

// AuditCheckpoints configures signed checkpoints of the audit file.
type AuditCheckpoints struct {
	// KeyID names the signing key in every checkpoint, so verification
	// finds its public key; give the next key a new id to rotate (keep the
	// old public key for verifying older checkpoints). Required with
	// signing_key.
	KeyID string `yaml:"key_id"`
	// SigningKey is the Ed25519 private key seed (base64, printed by
	// `dsgate audit keygen`) as a secret reference, e.g.
	// ${DSGATE_AUDIT_SIGNING_KEY} or file:/run/secrets/audit-key. Store it
	// where whoever can write the audit files cannot read it.
	SigningKey Secret `yaml:"signing_key"`
	// Path of the checkpoint file (JSON lines). Default
	// <dir>/checkpoints.jsonl.
	Path string `yaml:"path"`
	// Every signs the head after this many records. Default 1000.
	Every int `yaml:"every"`
	// Interval signs the head this long after the last checkpoint when
	// records were written since. Default 10s.
	Interval time.Duration `yaml:"interval"`
}

// AuditFile is the JSON-lines file sink.
type AuditFile struct {
	// Disabled turns the file sink off (another sink must be on).
	Disabled bool `yaml:"disabled"`
	// Path of the current file. Default <dir>/audit.jsonl.
	Path string `yaml:"path"`
	// MaxBytes rotates the file at this size. Default 100 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxFiles rotated files are kept; -1 keeps all. Default 10.
	MaxFiles int `yaml:"max_files"`
}

// AuditElasticsearch is the Elasticsearch _bulk sink.
type AuditElasticsearch struct {
	// URL of the cluster, e.g. http://elasticsearch:9200.
	URL string `yaml:"url"`
	// IndexPrefix of the daily indices. Default deepseek-api-.
	IndexPrefix string `yaml:"index_prefix"`
	// Username and Password for basic auth.
	Username string `yaml:"username"`
	// Password for basic auth, as a secret reference.
	Password Secret `yaml:"password"`
	// APIKey sent as "Authorization: ApiKey", as a secret reference.
	APIKey Secret `yaml:"api_key"`
}

// Tracing configures OpenTelemetry traces, exported over OTLP/HTTP.
type Tracing struct {
	// Enabled turns tracing on. Off by default.
	Enabled bool `yaml:"enabled"`
	// Endpoint is the collector's OTLP/HTTP host:port. Default 127.0.0.1:4318.
	Endpoint string `yaml:"endpoint"`
	// Insecure uses plain HTTP to the collector.
	Insecure bool `yaml:"insecure"`
	// SampleRatio of new traces kept (parents' decisions are honoured).
	// Default 1.
	SampleRatio *float64 `yaml:"sample_ratio"`
	// ServiceName in the traces. Default dsgate.
	ServiceName string `yaml:"service_name"`
}

func (c *Config) normalizeObserve() {
	a := &c.Audit
	a.Dir = cmp.Or(a.Dir, "dsgate-data/audit")
	if a.File.Path == "" {
		a.File.Path = a.Dir + "/audit.jsonl"
	}
	a.File.MaxBytes = cmp.Or(a.File.MaxBytes, 100<<20)
	a.File.MaxFiles = cmp.Or(a.File.MaxFiles, 10)
	a.FullPolicy = cmp.Or(a.FullPolicy, AuditDropNew)
	a.Elasticsearch.IndexPrefix = cmp.Or(a.Elasticsearch.IndexPrefix, "deepseek-api-")
	a.Checkpoints.Path = cmp.Or(a.Checkpoints.Path, a.Dir+"/checkpoints.jsonl")
	a.Checkpoints.Every = cmp.Or(a.Checkpoints.Every, 1000)
	a.Checkpoints.Interval = cmp.Or(a.Checkpoints.Interval, 10*time.Second)
	t := &c.Tracing
	t.Endpoint = cmp.Or(t.Endpoint, "127.0.0.1:4318")
	t.ServiceName = cmp.Or(t.ServiceName, "dsgate")
	if t.SampleRatio == nil {
		one := 1.0
		t.SampleRatio = &one
	}
}

func (c *Config) validateObserve(add func(path, format string, args ...any)) {
	if a := c.Audit; a.Enabled {
		switch a.FullPolicy {
		case AuditDropNew, AuditDropOldest, AuditBlockNewDeprecated:
		default:
			add("audit.full_policy", "must be drop_new or drop_oldest, got %q", a.FullPolicy)
		}
		if a.File.Disabled && !a.Stdout && a.Elasticsearch.URL == "" {
			add("audit", "needs at least one sink (file, stdout or elasticsearch)")
		}
		if a.QueueSize < 0 || a.MaxSpoolBytes < 0 {
			add("audit", "queue_size and max_spool_bytes must not be negative")
		}
		a.Checkpoints.validate(a.File.Disabled, add)
	}
	if r := *c.Tracing.SampleRatio; r < 0 || r > 1 {
		add("tracing.sample_ratio", "must be within 0..1, got %v", r)
	}
}

func (cp AuditCheckpoints) validate(fileDisabled bool, add func(path, format string, args ...any)) {
	if cp.SigningKey.Ref() == "" {
		return
	}
	if seed, err := base64.StdEncoding.DecodeString(cp.SigningKey.Value()); err != nil || len(seed) != 32 {
		add("audit.checkpoints.signing_key", "%s must hold a base64 Ed25519 seed of 32 bytes (see `dsgate audit keygen`)", cp.SigningKey.Ref())
	}
	if cp.KeyID == "" {
		add("audit.checkpoints.key_id", "is required with a signing key")
	}
	if fileDisabled {
		add("audit.checkpoints", "signs the audit file: the file sink must be on")
	}
	if cp.Every < 0 || cp.Interval < 0 {
		add("audit.checkpoints", "every and interval must not be negative")
	}
}
