package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/dsgate/dsgate/internal/durable"
)

// FileOptions configures a FileSink.
type FileOptions struct {
	// Path of the live file, e.g. /var/log/dsgate/audit.jsonl. Rotated files
	// sit beside it as audit-<first seq, 20 digits>.jsonl, so a shell glob
	// "audit*.jsonl" lists the chain in order, the live file last.
	Path string
	// MaxBytes rotates the live file once it reaches this size. Default 100 MiB.
	MaxBytes int64
	// MaxFiles is how many rotated files to keep (oldest removed first).
	// Default 10; negative keeps all.
	MaxFiles int
	// NoSync skips fsync after each batch (tests, or a filesystem that does
	// it anyway). By default every batch is fsync'd before Write returns.
	NoSync bool
	// DeferSync leaves the fsync to Sync, which the Writer calls before it
	// saves this sink's delivery cursor: records are durable in the file
	// before the spool forgets them, with far fewer fsyncs under load.
	DeferSync bool
	// Logger receives rotation failures; nil discards them.
	Logger *slog.Logger
}

// FileSink appends events as JSON lines to a size-rotated file. It remembers
// the last Seq it holds (recovered from the files at open) and skips events
// at or below it, so a re-sent batch after a crash is not written twice.
type FileSink struct {
	opts FileOptions
	dir  string
	base string // file name without extension
	ext  string

	mu       sync.Mutex
	f        *os.File
	size     int64
	firstSeq uint64 // seq of the live file's first record, 0 when empty
	last     chainState
	hasLast  bool
	// lines is the buffer a batch's lines are written from, kept for the
	// next batch (it was some 6% of the full pipeline's garbage).
	lines []byte
}

// maxKeptLines bounds the lines buffer a sink keeps between batches.
const maxKeptLines = 1 << 20

var (
	_ Sink   = (*FileSink)(nil)
	_ Tailer = (*FileSink)(nil)
)

// NewFileSink opens (or creates) the live file, repairs a torn last line and
// recovers the last record.
func NewFileSink(opts FileOptions) (*FileSink, error) {
	if opts.Path == "" {
		return nil, errors.New("audit file sink: path is required")
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 100 << 20
	}
	if opts.MaxFiles == 0 {
		opts.MaxFiles = 10
	}
	s := &FileSink{opts: opts, dir: filepath.Dir(opts.Path)}
	name := filepath.Base(opts.Path)
	s.ext = filepath.Ext(name)
	s.base = strings.TrimSuffix(name, s.ext)
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		return nil, fmt.Errorf("audit file sink: %w", err)
	}
	if err := s.open(); err != nil {
		return nil, fmt.Errorf("audit file sink: %w", err)
	}
	return s, nil
}

func (s *FileSink) open() error {
	f, err := os.OpenFile(s.opts.Path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("opening %s: %w", s.opts.Path, err)
	}
	last, ok, size, err := repairTail(f)
	if err != nil {
		f.Close()
		return err
	}
	s.f, s.size = f, size
	if ok {
		s.last, s.hasLast = chainState{seq: last.Seq, hash: last.Hash}, true
		head, err := firstLine(f, size)
		if err != nil {
			return err
		}
		var first Event
		if err := json.Unmarshal(head, &first); err != nil {
			return fmt.Errorf("decoding first record of %s: %w", s.opts.Path, err)
		}
		s.firstSeq = first.Seq
		return nil
	}
	return s.recoverFromRotated()
}

// recoverFromRotated reads the newest rotated file's last record when the
// live file is empty (the process stopped right after a rotation).
func (s *FileSink) recoverFromRotated() error {
	rotated, err := s.rotatedFiles()
	if err != nil || len(rotated) == 0 {
		return err
	}
	f, err := os.Open(rotated[len(rotated)-1])
	if err != nil {
		return fmt.Errorf("opening rotated file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat rotated file: %w", err)
	}
	line, end, err := tailLine(f, st.Size())
	if err != nil || end == 0 {
		return err
	}
	var ev Event
	if err := json.Unmarshal(line, &ev); err != nil {
		return fmt.Errorf("decoding last record of %s: %w", f.Name(), err)
	}
	s.last, s.hasLast = chainState{seq: ev.Seq, hash: ev.Hash}, true
	return nil
}

// Tail returns the last record the files hold.
func (s *FileSink) Tail() (seq uint64, hash string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last.seq, s.last.hash, s.hasLast
}

// Write appends the events not yet in the file, fsyncs, and rotates when
// the live file is full.
func (s *FileSink) Write(_ context.Context, batch []Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errSinkClosed
	}
	start := 0
	for start < len(batch) && s.hasLast && batch[start].Seq <= s.last.seq {
		start++
	}
	fresh := batch[start:]
	if len(fresh) == 0 {
		return nil
	}
	buf, err := appendLines(s.lines[:0], fresh)
	if err != nil {
		return err
	}
	if cap(buf) <= maxKeptLines {
		s.lines = buf
	}
	if _, err := s.f.Write(buf); err != nil {
		_ = s.f.Truncate(s.size) // best effort: no torn line before the retry
		return fmt.Errorf("writing %s: %w", s.opts.Path, err)
	}
	if !s.opts.NoSync && !s.opts.DeferSync {
		if err := durable.Sync(s.f); err != nil {
			return fmt.Errorf("syncing %s: %w", s.opts.Path, err)
		}
	}
	if s.firstSeq == 0 {
		s.firstSeq = fresh[0].Seq
	}
	s.size += int64(len(buf))
	lastEv := fresh[len(fresh)-1]
	s.last, s.hasLast = chainState{seq: lastEv.Seq, hash: lastEv.Hash}, true
	if s.size >= s.opts.MaxBytes {
		// The records are durable whatever happens here: a failed rotation
		// is logged and tried again after the next batch, never returned
		// (that would make the Writer re-send written records).
		if err := s.rotate(); err != nil && s.opts.Logger != nil {
			s.opts.Logger.Warn("audit file rotation failed", "path", s.opts.Path, "err", err)
		}
	}
	return nil
}

// Sync makes what Write wrote durable (a no-op unless DeferSync).
func (s *FileSink) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil || s.opts.NoSync || !s.opts.DeferSync {
		return nil
	}
	if err := durable.Sync(s.f); err != nil {
		return fmt.Errorf("syncing %s: %w", s.opts.Path, err)
	}
	return nil
}

func (s *FileSink) rotate() error {
	if s.opts.DeferSync && !s.opts.NoSync {
		if err := durable.Sync(s.f); err != nil { // the rotated file is never written again
			return fmt.Errorf("syncing %s: %w", s.opts.Path, err)
		}
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", s.opts.Path, err)
	}
	s.f = nil
	target := filepath.Join(s.dir, fmt.Sprintf("%s-%020d%s", s.base, s.firstSeq, s.ext))
	if err := os.Rename(s.opts.Path, target); err != nil {
		return errors.Join(fmt.Errorf("rotating %s: %w", s.opts.Path, err), s.reopen())
	}
	if err := syncDir(s.dir); err != nil {
		return errors.Join(err, s.reopen())
	}
	if err := s.reopen(); err != nil {
		return err
	}
	return s.prune()
}

func (s *FileSink) reopen() error {
	f, err := os.OpenFile(s.opts.Path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("opening %s: %w", s.opts.Path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat %s: %w", s.opts.Path, err)
	}
	s.f, s.size = f, st.Size()
	if s.size == 0 {
		s.firstSeq = 0
	}
	return nil
}

func (s *FileSink) prune() error {
	if s.opts.MaxFiles < 0 {
		return nil
	}
	rotated, err := s.rotatedFiles()
	if err != nil {
		return err
	}
	var errs []error
	for len(rotated) > s.opts.MaxFiles {
		if err := os.Remove(rotated[0]); err != nil {
			errs = append(errs, fmt.Errorf("removing old audit file: %w", err))
		}
		rotated = rotated[1:]
	}
	return errors.Join(errs...)
}

// rotatedFiles lists rotated files oldest first.
func (s *FileSink) rotatedFiles() ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", s.dir, err)
	}
	re := regexp.MustCompile("^" + regexp.QuoteMeta(s.base) + `-\d{20}` + regexp.QuoteMeta(s.ext) + "$")
	var out []string
	for _, e := range entries {
		if !e.IsDir() && re.MatchString(e.Name()) {
			out = append(out, filepath.Join(s.dir, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}

// Files returns the chain's files in verification order: rotated files
// oldest first, then the live file.
func (s *FileSink) Files() ([]string, error) {
	rotated, err := s.rotatedFiles()
	if err != nil {
		return nil, err
	}
	return append(rotated, s.opts.Path), nil
}

// Close closes the live file.
func (s *FileSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return fmt.Errorf("closing %s: %w", s.opts.Path, err)
	}
	return nil
}
