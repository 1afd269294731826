package audit

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// FullPolicy says what happens when the spool reaches MaxSpoolBytes.
type FullPolicy string

const (
	// DropNew drops new records and keeps the spooled ones (the chain stays
	// intact; the dropped records never get a sequence number).
	DropNew FullPolicy = "drop_new"
	// DropOldest removes the oldest spool segment, undelivered records
	// included, to make room. Sinks then see a sequence gap, which Verify
	// reports as missing records: the loss is visible, not silent.
	DropOldest FullPolicy = "drop_oldest"
	// blockNew is DropNew's deprecated name (it never blocked), still
	// accepted: configs written before the rename keep working.
	blockNew FullPolicy = "block_new"
)

// Drop reasons, the values of the reason label of dsgate_audit_dropped_total.
const (
	DropQueueFull  = "queue_full"  // the in-memory queue was full
	DropSpoolFull  = "spool_full"  // drop_new and the spool was full
	DropOldestSeg  = "drop_oldest" // undelivered records removed by drop_oldest
	DropClosed     = "closed"      // Record after Close
	DropSpoolError = "spool_error" // the spool could not be written (disk error)
)

// Metrics are the Prometheus collectors the Writer updates; any may be nil.
// internal/metrics builds them (AuditQueueDepth, AuditDropped,
// AuditSinkErrors, AuditDelivered).
type Metrics struct {
	QueueDepth prometheus.Gauge       // records accepted, not yet delivered to every sink
	Dropped    *prometheus.CounterVec // label: reason
	SinkErrors *prometheus.CounterVec // label: sink
	Delivered  *prometheus.CounterVec // label: sink
}

// Options configures a Writer. SpoolDir and Sinks are required.
type Options struct {
	SpoolDir string      // directory of the disk spool; one Writer per directory
	Sinks    []NamedSink // names: [a-z0-9_-], unique, stable across restarts

	QueueSize int // in-memory queue in front of the spool; default 8192
	BatchSize int // max records per spool append and per sink write; default 512
	// Linger is how long the sequencer waits after a record for more to
	// fill its batch: one fsync then covers them all (group commit). A
	// record is on disk at most Linger plus one fsync after Record returns
	// (and up to 10 ms more while every P is busy: the fsync's completion
	// is read through the poller, see internal/durable). Default 5ms.
	Linger time.Duration
	// CursorEvery is how often a sink's delivery cursor is made durable;
	// after a crash, records delivered since are sent again, which sinks
	// absorb by id and seq. Close always saves the cursors. Default 100ms.
	CursorEvery   time.Duration
	SegmentBytes  int64      // spool segment size; default 8 MiB
	MaxSpoolBytes int64      // spool limit; default 1 GiB, at least 2*SegmentBytes
	FullPolicy    FullPolicy // default DropNew

	Anchor  string // prev_hash of a new chain's first record; default ZeroHash
	ChainID string // written into every event's chain field (e.g. the replica name)

	IncludeBodies bool                // keep Input/Output text; otherwise only their hashes
	Redact        func(string) string // applied to kept bodies (after hashing)

	RetryMin     time.Duration // first backoff after a failed sink write; default 100 ms
	RetryMax     time.Duration // backoff cap; default 30 s
	WriteTimeout time.Duration // one sink write; default 10 s
	FlushTimeout time.Duration // how long Close keeps delivering; default 5 s

	Now     func() time.Time // clock for ids and missing timestamps; default time.Now
	Logger  *slog.Logger     // default discards
	Metrics Metrics
}

var sinkNameRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

func (o *Options) setDefaults() error {
	if o.SpoolDir == "" {
		return errors.New("audit: spool directory is required")
	}
	if len(o.Sinks) == 0 {
		return errors.New("audit: at least one sink is required")
	}
	seen := map[string]bool{}
	for _, s := range o.Sinks {
		if !sinkNameRe.MatchString(s.Name) || s.Sink == nil {
			return fmt.Errorf("audit: sink name %q must match [a-z0-9_-]{1,64} and have a sink", s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("audit: sink name %q used twice", s.Name)
		}
		seen[s.Name] = true
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.QueueSize, 8192)
	def(&o.BatchSize, 512)
	defDur(&o.Linger, 5*time.Millisecond)
	defDur(&o.CursorEvery, 100*time.Millisecond)
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 8 << 20
	}
	if o.MaxSpoolBytes <= 0 {
		o.MaxSpoolBytes = 1 << 30
	}
	if o.MaxSpoolBytes < 2*o.SegmentBytes {
		return fmt.Errorf("audit: max spool bytes %d must be at least twice the segment size %d", o.MaxSpoolBytes, o.SegmentBytes)
	}
	switch o.FullPolicy {
	case "", blockNew:
		o.FullPolicy = DropNew
	case DropNew, DropOldest:
	default:
		return fmt.Errorf("audit: full policy %q is not drop_new or drop_oldest", o.FullPolicy)
	}
	if o.Anchor == "" {
		o.Anchor = ZeroHash
	}
	defDur(&o.RetryMin, 100*time.Millisecond)
	defDur(&o.RetryMax, 30*time.Second)
	defDur(&o.WriteTimeout, 10*time.Second)
	defDur(&o.FlushTimeout, 5*time.Second)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
