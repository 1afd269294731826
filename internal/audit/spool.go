package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"

	"github.com/dsgate/dsgate/internal/durable"
)

// spool is the disk queue behind the Writer: append-only segment files
// seg-<first seq, 20 digits>.jsonl holding sealed events with contiguous
// sequence numbers, and one cursor file per sink holding the last seq that
// sink acknowledged. A segment is removed once every sink's cursor is past
// it (never the segment being appended to, which keeps the chain head).
//
// One goroutine appends; any number read. Readers only see bytes that were
// fsync'd (a segment's committed size).
type spool struct {
	dir      string
	segBytes int64
	lock     *os.File

	mu      sync.Mutex
	segs    []*segment
	total   int64             // committed bytes over all segments
	cursors map[string]uint64 // durable delivery positions, per sink
	// delivered is ahead of cursors while a cursor waits to be saved;
	// pending counts from it, segment removal only from cursors.
	delivered map[string]uint64
	// tail holds the last appended batches in memory, so deliverers that
	// keep up take them from here instead of reading and decoding the file.
	tail     []tailBatch
	tailSize int64      // bytes of the tail's lines
	head     chainState // last appended record
	active   *os.File   // open for append: the last segment
}

type segment struct {
	first uint64
	count uint64
	size  int64
	path  string
}

func (s *segment) last() uint64 { return s.first + s.count - 1 }

// position is where a reader is: in segment seg (its first seq) at byte off,
// expecting seq next.
type position struct {
	seg  uint64
	off  int64
	next uint64
}

var segName = regexp.MustCompile(`^seg-(\d{20})\.jsonl$`)

func openSpool(dir string, segBytes int64, sinks []string) (*spool, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating spool directory: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &spool{dir: dir, segBytes: segBytes, lock: lock, cursors: map[string]uint64{}, delivered: map[string]uint64{}}
	if err := s.load(); err != nil {
		_ = s.close()
		return nil, err
	}
	for _, name := range sinks {
		c, err := s.readCursor(name)
		if err != nil {
			_ = s.close()
			return nil, err
		}
		s.cursors[name] = c
	}
	return s, nil
}

// load lists segments and recovers the head from the last one, dropping a
// torn line left by a crash and empty trailing segments.
func (s *spool) load() error {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("listing spool: %w", err)
	}
	for _, e := range entries {
		m := segName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		first, _ := strconv.ParseUint(m[1], 10, 64)
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("stat spool segment: %w", err)
		}
		s.segs = append(s.segs, &segment{first: first, size: info.Size(), path: filepath.Join(s.dir, e.Name())})
	}
	slices.SortFunc(s.segs, func(a, b *segment) int { return cmpUint(a.first, b.first) })
	for i := 0; i+1 < len(s.segs); i++ {
		s.segs[i].count = s.segs[i+1].first - s.segs[i].first
	}
	for len(s.segs) > 0 {
		last := s.segs[len(s.segs)-1]
		f, err := os.OpenFile(last.path, os.O_RDWR|os.O_APPEND, 0o640)
		if err != nil {
			return fmt.Errorf("opening spool segment: %w", err)
		}
		ev, ok, size, err := repairTail(f)
		if err != nil {
			f.Close()
			return fmt.Errorf("recovering spool: %w", err)
		}
		if !ok {
			f.Close()
			if err := os.Remove(last.path); err != nil {
				return fmt.Errorf("removing empty spool segment: %w", err)
			}
			s.segs = s.segs[:len(s.segs)-1]
			continue
		}
		if ev.Seq < last.first {
			f.Close()
			return fmt.Errorf("recovering spool: segment %s ends at seq %d before its first seq", last.path, ev.Seq)
		}
		last.size, last.count = size, ev.Seq-last.first+1
		s.head = chainState{seq: ev.Seq, hash: ev.Hash}
		s.active = f
		break
	}
	for _, sg := range s.segs {
		s.total += sg.size
	}
	return nil
}

// empty reports whether the spool holds no record at all (a new directory).
func (s *spool) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.segs) == 0
}

// tailBatch is one appended batch: its records and where they lie.
type tailBatch struct {
	seg      uint64 // first seq of the segment
	off, end int64
	evs      []Event
}

// tailBytes bounds the tail cache by the bytes of its records' lines; a
// deliverer further behind reads the file. Deliverers keep up within a
// batch or two (at 10,000 requests a second a 5 ms batch is some 25 KB of
// lines): the first bound, 64 batches of up to 512 records, held 30-40 MB
// under load (bench/cpu's audit stage: peak RSS 81 MB against 44 MB
// without audit); the second, 2 MiB of lines, held some 6 MB of live
// heap (each line's event and its strings take twice the line again),
// which every collection marks, and twice that in peak RSS under GOGC=100
// (the full pipeline's peak RSS fell by ~10 MB with this bound).
const tailBytes = 256 << 10

// append writes sealed events (with their encoded lines in buf) and fsyncs.
// Only the sequencer calls it.
func (s *spool) append(evs []Event, buf []byte) error {
	if len(evs) == 0 {
		return nil
	}
	if err := s.rotateIfFull(evs[0].Seq); err != nil {
		return err
	}
	s.mu.Lock()
	seg := s.segs[len(s.segs)-1]
	f := s.active
	s.mu.Unlock()
	if _, err := f.Write(buf); err != nil {
		_ = f.Truncate(seg.size)
		return fmt.Errorf("writing spool: %w", err)
	}
	if err := durable.Sync(f); err != nil {
		_ = f.Truncate(seg.size)
		return fmt.Errorf("syncing spool: %w", err)
	}
	s.mu.Lock()
	s.tail = append(s.tail, tailBatch{seg: seg.first, off: seg.size, end: seg.size + int64(len(buf)), evs: evs})
	s.tailSize += int64(len(buf))
	n := 0
	for ; n < len(s.tail)-1 && s.tailSize > tailBytes; n++ {
		s.tailSize -= s.tail[n].end - s.tail[n].off
	}
	s.tail = slices.Delete(s.tail, 0, n)
	seg.size += int64(len(buf))
	seg.count += uint64(len(evs))
	s.total += int64(len(buf))
	last := evs[len(evs)-1]
	s.head = chainState{seq: last.Seq, hash: last.Hash}
	s.mu.Unlock()
	return nil
}

func (s *spool) rotateIfFull(nextSeq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) > 0 && s.segs[len(s.segs)-1].size < s.segBytes {
		return nil
	}
	path := filepath.Join(s.dir, fmt.Sprintf("seg-%020d.jsonl", nextSeq))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("creating spool segment: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		_ = os.Remove(path)
		return err
	}
	if s.active != nil {
		_ = s.active.Close()
	}
	s.active = f
	s.segs = append(s.segs, &segment{first: nextSeq, path: path})
	return nil
}

// activeSize is the size of the segment being appended to (0 when none).
func (s *spool) activeSize() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) == 0 {
		return 0
	}
	return s.segs[len(s.segs)-1].size
}

// fits reports whether n more bytes stay within limit (0 means no limit).
func (s *spool) fits(n, limit int64) bool {
	if limit <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total+n <= limit
}

// dropOldest removes the oldest segment unless it is the active one and
// returns how many of its records some sink had not yet acknowledged.
func (s *spool) dropOldest() (lost uint64, ok bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) < 2 {
		return 0, false, nil
	}
	sg := s.segs[0]
	if err := os.Remove(sg.path); err != nil {
		return 0, false, fmt.Errorf("dropping spool segment: %w", err)
	}
	s.segs = s.segs[1:]
	s.total -= sg.size
	done := max(s.minCursorLocked(), sg.first-1)
	if sg.last() > done {
		lost = sg.last() - done
	}
	return lost, true, nil
}

// read returns up to limit events at pos and the position after them. A
// position inside a dropped segment moves to the oldest segment left.
func (s *spool) read(pos position, limit int) ([]Event, position, error) {
	for {
		s.mu.Lock()
		if len(s.segs) == 0 {
			s.mu.Unlock()
			return nil, pos, nil
		}
		i := slices.IndexFunc(s.segs, func(sg *segment) bool { return sg.first == pos.seg })
		if i < 0 || pos.next < s.segs[0].first {
			// The segment is gone (delivered, or dropped by drop_oldest) or
			// the reader starts before the oldest record left.
			next := max(pos.next, s.segs[0].first)
			i = s.segLocked(next)
			pos = position{seg: s.segs[i].first, next: next}
		}
		sg := *s.segs[i]
		hasNext := i+1 < len(s.segs)
		s.mu.Unlock()
		if pos.off >= sg.size {
			if !hasNext {
				return nil, pos, nil
			}
			pos = position{seg: sg.first + sg.count, next: pos.next}
			continue
		}
		if evs, end, ok := s.fromTail(pos, limit); ok {
			pos.off, pos.next = end, evs[len(evs)-1].Seq+1
			return evs, pos, nil
		}
		evs, off, err := readSegment(sg.path, pos.off, sg.size, pos.next, limit)
		if err != nil {
			return nil, pos, err
		}
		pos.off = off
		if len(evs) > 0 {
			pos.next = evs[len(evs)-1].Seq + 1
			return evs, pos, nil
		}
	}
}

// fromTail returns the cached batch that starts exactly at pos. It looks
// from the newest batch back: a deliverer that keeps up wants one of the
// last, and a tail of small batches (one record each under a light load)
// holds thousands (bench/RESULTS.md: 6K instructions a request when it
// looked from the oldest).
func (s *spool) fromTail(pos position, limit int) ([]Event, int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.tail) - 1; i >= 0; i-- {
		b := &s.tail[i]
		if b.seg == pos.seg && b.off == pos.off && len(b.evs) <= limit && b.evs[0].Seq >= pos.next {
			return b.evs, b.end, true
		}
	}
	return nil, 0, false
}

// segLocked returns the index of the segment holding seq (or the last one).
func (s *spool) segLocked(seq uint64) int {
	i := len(s.segs) - 1
	for i > 0 && s.segs[i].first > seq {
		i--
	}
	return i
}

// readSegment decodes lines in [off, end) of path, skipping seqs below next.
func readSegment(path string, off, end int64, next uint64, limit int) ([]Event, int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, end, nil // dropped meanwhile; the caller moves on
	}
	if err != nil {
		return nil, off, fmt.Errorf("opening spool segment: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(io.NewSectionReader(f, off, end-off), int(min(end-off, 256<<10))) // (bufio takes 16 bytes at least)
	var evs []Event
	for len(evs) < limit && off < end {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return nil, off, fmt.Errorf("reading spool segment %s at %d: %w", path, off, err)
		}
		off += int64(len(line))
		var ev Event
		if err := json.Unmarshal(line, &ev); err != nil {
			return nil, off, fmt.Errorf("decoding spool segment %s: %w", path, err)
		}
		if ev.Seq >= next {
			ev.raw = bytes.TrimSuffix(line, []byte{'\n'})
			evs = append(evs, ev)
		}
	}
	return evs, off, nil
}

// startPosition is where a reader resumes after cursor (the last acked seq).
func (s *spool) startPosition(cursor uint64) position {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) == 0 {
		return position{next: cursor + 1}
	}
	i := s.segLocked(cursor + 1)
	return position{seg: s.segs[i].first, next: cursor + 1}
}

// ack records that sink has every record up to seq, persists the cursor and
// removes segments every sink is past.
func (s *spool) ack(sink string, seq uint64) error {
	if err := s.writeCursor(sink, seq); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cursors[sink] = seq
	s.delivered[sink] = max(s.delivered[sink], seq)
	minC := s.minCursorLocked()
	var errs []error
	for len(s.segs) > 1 && s.segs[0].last() <= minC {
		if err := os.Remove(s.segs[0].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing delivered spool segment: %w", err))
			break
		}
		s.total -= s.segs[0].size
		s.segs = s.segs[1:]
	}
	return errors.Join(errs...)
}

func (s *spool) minCursorLocked() uint64 {
	m := s.head.seq
	for _, c := range s.cursors {
		m = min(m, c)
	}
	return m
}

// markDelivered records that sink accepted records up to seq, before its
// cursor is saved.
func (s *spool) markDelivered(sink string, seq uint64) {
	s.mu.Lock()
	s.delivered[sink] = max(s.delivered[sink], seq)
	s.mu.Unlock()
}

// deliveredLocked is sink's position counting unsaved deliveries.
func (s *spool) deliveredLocked(sink string) uint64 {
	return max(s.cursors[sink], s.delivered[sink])
}

// pending is the number of records some sink has not acknowledged.
func (s *spool) pending() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) == 0 {
		return 0
	}
	m := s.head.seq
	for sink := range s.cursors {
		m = min(m, s.deliveredLocked(sink))
	}
	// Records dropped by drop_oldest are not pending.
	return s.head.seq - max(m, s.segs[0].first-1)
}

// pendingFor is the number of records sink has not acknowledged.
func (s *spool) pendingFor(sink string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) == 0 {
		return 0
	}
	done := max(s.deliveredLocked(sink), s.segs[0].first-1)
	if done >= s.head.seq {
		return 0
	}
	return s.head.seq - done
}

func (s *spool) bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

func (s *spool) headState() chainState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.head
}

func (s *spool) cursor(sink string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursors[sink]
}

func (s *spool) cursorPath(sink string) string {
	return filepath.Join(s.dir, "cursor-"+sink+".json")
}

func (s *spool) readCursor(sink string) (uint64, error) {
	b, err := os.ReadFile(s.cursorPath(sink))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading cursor of sink %s: %w", sink, err)
	}
	var c struct {
		Seq uint64 `json:"seq"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return 0, fmt.Errorf("decoding cursor of sink %s: %w", sink, err)
	}
	return c.Seq, nil
}

// writeCursor replaces the cursor file atomically (temp file, fsync, rename).
func (s *spool) writeCursor(sink string, seq uint64) error {
	path := s.cursorPath(sink)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o640)
	if err != nil {
		return fmt.Errorf("writing cursor: %w", err)
	}
	_, werr := fmt.Fprintf(f, "{\"seq\":%d}\n", seq)
	serr := durable.Sync(f)
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("writing cursor: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing cursor: %w", err)
	}
	return syncDir(s.dir)
}

func (s *spool) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.active != nil {
		errs = append(errs, s.active.Close())
		s.active = nil
	}
	if s.lock != nil {
		errs = append(errs, unlockDir(s.lock))
		s.lock = nil
	}
	return errors.Join(errs...)
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
