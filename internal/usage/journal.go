package usage

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/dsgate/dsgate/internal/store"
)

// ErrJournalLocked means another process (a running gateway) holds the
// journal; it applies the journal itself.
var ErrJournalLocked = errors.New("usage journal is in use by another process")

// journalMagic starts the header line of a journal file; the journal's id
// follows it.
const journalMagic = "dsgate-usage-journal v1 "

// journal is a gateway's local, append-only log of usage records. Record
// writes each record to it before adding it to the pending totals, so a
// record survives a crash of the process (the write is in the kernel) and
// is replayed at the next start, or by `dsgate usage reconcile`. Each
// record has a sequence number; the store keeps, in the same transaction as
// the totals, the number of the last record added (store.JournalMark), so
// a replay adds each record exactly once.
//
// The file is a header line "dsgate-usage-journal v1 <id>" and one line per
// record (appendEntry), tab-separated, strings quoted. Once
// every record is in the store the file is cut back to its header.
//
// Where the system can (Linux), the file is mapped into memory, its blocks
// allocated ahead (mapFile), and a record is copied into the mapping: the
// page is the kernel's as soon as the copy ends, so it survives the
// process as a write call's bytes do, without the call (one of the full
// pipeline's nine system calls a request). The file then ends in zero
// bytes past its records, which load drops as it drops a torn last line.
// A fault in a copy (the file cut under the mapping) or a file system
// that cannot map safely means write calls instead (journal_map_linux.go).
type journal struct {
	f      *os.File // holds the lock
	id     string
	header int64 // bytes of the header line
	size   int64
	buf    []byte
	// m is the file mapped (nil: records are written with write calls);
	// every byte of m past size is zero.
	m []byte
	// damaged is how many lines load found damaged (see load).
	damaged int
	// trouble, when set, is what went wrong with the mapping, for the
	// recorder to log.
	trouble string
}

// mapJournals is off in tests of the write calls' way.
var mapJournals = true

// mapChunk is how much a mapped journal grows by: some ten thousand
// records between two mappings.
const mapChunk = 1 << 20

// journalEntry is one record read back from a journal.
type journalEntry struct {
	seq   uint64
	delta store.UsageDelta
}

// openJournal opens (creating it if needed) and locks the journal at path
// and returns its records.
func openJournal(path string) (*journal, []journalEntry, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, nil, fmt.Errorf("usage journal: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("usage journal: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("usage journal %s: %w", path, err)
	}
	j := &journal{f: f}
	entries, err := j.load()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("usage journal %s: %w", path, err)
	}
	j.mapFile(j.size) // write calls where it cannot
	return j, entries, nil
}

// load reads the header (writing one into an empty file) and the records.
// A last line without its newline (a write cut by a power loss, a copy
// into the mapping cut by the process's death, a mapped journal's unused
// zeros) is dropped. No record has a zero byte: a line with zeros is
// pages a power loss left unwritten, and only what follows its last zero
// can be a record (the rest is lost, and counted in j.damaged).
func (j *journal) load() ([]journalEntry, error) {
	data, err := io.ReadAll(j.f)
	if err != nil {
		return nil, err
	}
	if len(bytes.Trim(data, "\x00")) == 0 {
		// Empty, or zeros only: a journal whose creation a power loss cut
		// (its header is durable before any record is written).
		if err := j.f.Truncate(0); err != nil {
			return nil, err
		}
		return nil, j.writeHeader(newJournalID())
	}
	head, rest, ok := bytes.Cut(data, []byte("\n"))
	id, isJournal := strings.CutPrefix(string(head), journalMagic)
	if !ok || !isJournal || id == "" {
		return nil, errors.New("not a usage journal (bad header)")
	}
	j.id, j.header = id, int64(len(head)+1)
	var entries []journalEntry
	valid := j.header
	for n := 2; len(rest) > 0; n++ {
		line, more, complete := bytes.Cut(rest, []byte("\n"))
		if !complete {
			break
		}
		rest, valid = more, valid+int64(len(line)+1)
		rec := line
		if i := bytes.LastIndexByte(line, 0); i >= 0 {
			rec = line[i+1:]
		}
		e, err := parseEntry(string(rec))
		recovered := len(rec) < len(line)
		switch {
		case err == nil && (!recovered || len(entries) == 0 || e.seq > entries[len(entries)-1].seq):
			entries = append(entries, e)
		case recovered: // (a seq not above the last one's: the tail of a longer number)
			j.damaged++
		default:
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := j.f.Truncate(valid); err != nil {
		return nil, err
	}
	j.size = valid
	_, err = j.f.Seek(valid, io.SeekStart)
	return entries, err
}

func (j *journal) writeHeader(id string) error {
	j.id = id
	line := headerLine(id)
	if _, err := j.f.WriteAt([]byte(line), 0); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil { // once a journal: no power loss takes the header and leaves records
		return err
	}
	j.header, j.size = int64(len(line)), int64(len(line))
	_, err := j.f.Seek(j.size, io.SeekStart)
	return err
}

// headerLine is the first line of journal id.
func headerLine(id string) string { return journalMagic + id + "\n" }

func newJournalID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// append adds one record: copied into the mapping, or in one write call.
func (j *journal) append(seq uint64, d *store.UsageDelta) error {
	j.buf = appendEntry(j.buf[:0], seq, d)
	return j.put(j.buf)
}

// put adds whole lines (b ends in a newline) at the journal's end.
func (j *journal) put(b []byte) error {
	if j.m != nil && j.size+int64(len(b)) > int64(len(j.m)) {
		j.mapFile(j.size + int64(len(b))) // a larger mapping, or write calls from here on
	}
	if j.m != nil && j.copyIn(b) {
		return nil
	}
	n, err := j.f.Write(b)
	if err != nil {
		// A part written (a full disk) is cut off again: the next
		// record would be glued to it, and the journal unreadable.
		j.writeFrom(j.size)
		return err
	}
	j.size += int64(n)
	return nil
}

// writeFrom cuts the file at size and has the write calls go on from
// there (the mapping's zeros, or a partial line, past it).
func (j *journal) writeFrom(size int64) {
	j.f.Truncate(size)
	j.f.Seek(size, io.SeekStart)
}

// checkCut reports whether another process cut the file (the lock is
// advisory: `: > journal`, a log rotator's copytruncate): shorter than its
// records, or its header gone (a cut the mapping's growth then filled with
// zeros). If so it puts back what the next start needs to read the file:
// the header, and the file's length up to the records' end (zeros where
// the cut records were), from which the journal goes on. The cut records
// are still pending in memory, safe from anything but a crash until a
// flush stores them.
func (j *journal) checkCut() (bool, error) {
	fi, err := j.f.Stat()
	if err != nil {
		return false, err
	}
	head := []byte(headerLine(j.id))
	got := make([]byte, len(head))
	if n, _ := j.f.ReadAt(got, 0); fi.Size() >= j.size && n == len(head) && bytes.Equal(got, head) {
		return false, nil
	}
	mapped := j.unmap()
	if _, err = j.f.WriteAt(head, 0); err != nil {
		return true, err
	}
	if fi.Size() < j.size {
		j.writeFrom(j.size)
	}
	if mapped {
		j.mapFile(j.size)
	}
	return true, nil
}

// appendEntry appends one line: a record (one request) or a compacted
// bucket, both as 12 fields: seq, kind, principal, model, the UTC hour of
// the bucket (Unix seconds), prompt, cache-hit and completion tokens,
// requests, cost, saving and currency. (Journals written before hourly
// buckets also hold 8-field record lines, with no cost; they are still
// read.)
func appendEntry(b []byte, seq uint64, d *store.UsageDelta) []byte {
	b = strconv.AppendUint(b, seq, 10)
	for _, s := range [...]string{string(d.Kind), d.PrincipalID, d.Model} {
		b = strconv.AppendQuote(append(b, '\t'), s)
	}
	for _, n := range [...]int64{d.UsageKey().Hour.Unix(), d.PromptTokens, d.CacheHitTokens, d.CompletionTokens,
		d.Requests, d.Cost, d.CostSaved} {
		b = strconv.AppendInt(append(b, '\t'), n, 10)
	}
	b = strconv.AppendQuote(append(b, '\t'), d.Currency)
	return append(b, '\n')
}

// rewrite replaces every record with the lines in b: cut back to the
// header, then one write. (A process killed between the two loses what
// b held; rewrite runs only when the journal outgrew its bound while the
// store refused writes.)
func (j *journal) rewrite(b []byte) error {
	if err := j.reset(true); err != nil || len(b) == 0 {
		return err
	}
	return j.put(b)
}

// reset cuts the journal back to its header: every record is in the store.
// With remap the journal is then mapped (again), its records' blocks freed
// by the cut: one that went on with write calls after a failure to map (a
// full disk, a fault) tries again.
func (j *journal) reset(remap bool) error {
	j.unmap()
	err := j.f.Truncate(j.header)
	if err == nil {
		j.size = j.header
	}
	if _, serr := j.f.Seek(j.size, io.SeekStart); err == nil {
		err = serr
	}
	if remap {
		j.mapFile(j.size)
	}
	return err
}

// close releases the file and its lock, a mapped file cut to its records.
func (j *journal) close() error {
	if j.unmap() {
		j.f.Truncate(j.size)
	}
	return j.f.Close()
}

// parseEntry reads one line: 12 fields (appendEntry) or an 8-field record
// line of an older journal (one request, no cost).
func parseEntry(line string) (journalEntry, error) {
	f := strings.Split(line, "\t")
	if len(f) != 8 && len(f) != 12 {
		return journalEntry{}, fmt.Errorf("want 8 or 12 fields, got %d", len(f))
	}
	var e journalEntry
	var err error
	if e.seq, err = strconv.ParseUint(f[0], 10, 64); err != nil {
		return e, err
	}
	var strs [3]string
	for i := range strs {
		if strs[i], err = strconv.Unquote(f[1+i]); err != nil {
			return e, fmt.Errorf("field %d: %w", 2+i, err)
		}
	}
	var nums [7]int64
	nums[4] = 1 // one request unless the line says otherwise
	for i := range len(f) - 4 - len(f)/12 {
		if nums[i], err = strconv.ParseInt(f[4+i], 10, 64); err != nil {
			return e, fmt.Errorf("field %d: %w", 5+i, err)
		}
	}
	e.delta = store.UsageDelta{Kind: store.PrincipalKind(strs[0]), PrincipalID: strs[1], Model: strs[2],
		Day: time.Unix(nums[0], 0).UTC(), Requests: nums[4], PromptTokens: nums[1], CacheHitTokens: nums[2],
		CompletionTokens: nums[3], Cost: nums[5], CostSaved: nums[6]}
	if len(f) == 12 {
		if e.delta.Currency, err = strconv.Unquote(f[11]); err != nil {
			return e, fmt.Errorf("field 12: %w", err)
		}
	}
	return e, nil
}
