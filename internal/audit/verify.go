package audit

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// ProblemKind names what Verify found wrong.
type ProblemKind string

// Problem kinds, from the most to the least specific.
const (
	// ProblemMalformed: the line is not a valid event (bad JSON, unknown field).
	ProblemMalformed ProblemKind = "malformed"
	// ProblemModified: the record's hash does not match its content.
	ProblemModified ProblemKind = "modified"
	// ProblemMissing: sequence numbers jump; records were deleted.
	ProblemMissing ProblemKind = "missing"
	// ProblemReordered: a record appears out of sequence order (or twice).
	ProblemReordered ProblemKind = "reordered"
	// ProblemBrokenLink: prev_hash is not the previous record's hash, so a
	// record before it was replaced (rehashed) or the chain was spliced.
	ProblemBrokenLink ProblemKind = "broken_link"
	// ProblemHead: the last record is not the expected head (truncated tail).
	ProblemHead ProblemKind = "head_mismatch"
	// ProblemCheckpoint: a signed checkpoint is invalid (bad signature,
	// unknown key, checkpoints removed) or a record differs from the hash
	// a checkpoint signed (the chain was rewritten and recomputed).
	ProblemCheckpoint ProblemKind = "checkpoint"
	// ProblemTruncated: a signed checkpoint names a seq past the end of the
	// files: records were cut off the end.
	ProblemTruncated ProblemKind = "truncated"
	// ProblemUnsigned: more records follow the last signed checkpoint than
	// VerifyOptions.MaxUnsigned allows.
	ProblemUnsigned ProblemKind = "unsigned"
)

// Problem locates the first defect in a chain.
type Problem struct {
	File   string      `json:"file,omitempty"`
	Line   int         `json:"line"`
	Seq    uint64      `json:"seq,omitempty"`
	Kind   ProblemKind `json:"kind"`
	Detail string      `json:"detail"`
}

func (p Problem) String() string {
	loc := p.File
	if loc == "" {
		loc = "<input>"
	}
	return fmt.Sprintf("%s:%d: %s: %s", loc, p.Line, p.Kind, p.Detail)
}

// Report is the outcome of a verification. OK is false exactly when Problem
// is set.
type Report struct {
	OK       bool   `json:"ok"`
	Files    int    `json:"files"`
	Records  int    `json:"records"`
	FirstSeq uint64 `json:"first_seq"`
	LastSeq  uint64 `json:"last_seq"`
	Head     string `json:"head"` // hash of the last record
	// Checkpoints is how many signed checkpoints were matched to records;
	// SignedSeq the highest seq they cover; Unsigned the records after it.
	// Set only when verifying with checkpoint keys.
	Checkpoints int      `json:"checkpoints,omitempty"`
	SignedSeq   uint64   `json:"signed_seq,omitempty"`
	Unsigned    uint64   `json:"unsigned,omitempty"`
	Problem     *Problem `json:"problem,omitempty"`
}

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	// Anchor is the expected prev_hash of the first record; ZeroHash when
	// empty. Ignored when Partial.
	Anchor string
	// Partial accepts a chain that starts anywhere (rotated files were
	// pruned): the first record's seq and prev_hash are taken as given.
	Partial bool
	// ExpectHead, when set, is the hash the last record must have; it catches
	// records cut off the end, which a chain alone cannot show.
	ExpectHead string
	// Lookahead is how many lines past a sequence gap are searched for the
	// missing record, to tell "reordered" from "missing". Default 100000.
	Lookahead int
	// MaxLineBytes bounds one record. Default 64 MiB.
	MaxLineBytes int
	// CheckpointKeys, when not nil, turns on checkpoint verification: the
	// public keys (by key id) that may have signed Checkpoints. Every
	// checkpoint must verify and link to the one before; every record a
	// checkpoint names must have the signed hash; no checkpoint may name a
	// seq past the last record (truncation).
	CheckpointKeys map[string]ed25519.PublicKey
	Checkpoints    []Checkpoint
	// MaxUnsigned is how many records may follow the last checkpoint
	// (a live file's newest records are not signed yet); negative: any.
	MaxUnsigned int
	// trustCheckpoints skips signature checks (the sink checking its own
	// last checkpoint at open).
	trustCheckpoints bool
}

// Verify checks one JSON-lines stream of events.
func Verify(r io.Reader, opts VerifyOptions) (Report, error) {
	v := NewVerifier(opts)
	if err := v.Check("", r); err != nil {
		return Report{}, err
	}
	return v.Finish(), nil
}

// VerifyFiles checks files in the order given as one chain (rotated files
// oldest first, the live file last).
func VerifyFiles(paths []string, opts VerifyOptions) (Report, error) {
	v := NewVerifier(opts)
	for _, p := range paths {
		if err := verifyFile(v, p); err != nil {
			return Report{}, err
		}
		if v.done() {
			break
		}
	}
	return v.Finish(), nil
}

func verifyFile(v *Verifier, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening audit file: %w", err)
	}
	defer f.Close()
	return v.Check(path, f)
}

// Verifier checks a chain fed to it stream by stream. It stops at the first
// problem. Not safe for concurrent use.
type Verifier struct {
	opts    VerifyOptions
	report  Report
	started bool
	prev    chainState
	prevAt  string // file:line of the previous record

	// A sequence gap is classified after looking ahead for the missing seqs.
	gap      *Problem
	gapLo    uint64 // first missing seq
	gapHi    uint64 // last missing seq
	gapLines int    // lines left to look at

	cps       map[uint64]Checkpoint // by seq, when verifying checkpoints
	maxCP     Checkpoint            // the checkpoint with the highest seq
	signedSeq uint64                // highest seq matched to a checkpoint
}

// NewVerifier returns a Verifier for one chain.
func NewVerifier(opts VerifyOptions) *Verifier {
	if opts.Anchor == "" {
		opts.Anchor = ZeroHash
	}
	if opts.Lookahead <= 0 {
		opts.Lookahead = 100000
	}
	if opts.MaxLineBytes <= 0 {
		opts.MaxLineBytes = 64 << 20
	}
	v := &Verifier{opts: opts, report: Report{OK: true}}
	if opts.CheckpointKeys != nil {
		v.loadCheckpoints()
	}
	return v
}

// loadCheckpoints checks the checkpoints themselves and indexes them by seq.
func (v *Verifier) loadCheckpoints() {
	if !v.opts.trustCheckpoints {
		if d := checkCheckpoints(v.opts.Checkpoints, v.opts.CheckpointKeys, v.opts.Partial); d != "" {
			v.fail(Problem{Kind: ProblemCheckpoint, Detail: d})
			return
		}
	}
	v.cps = make(map[uint64]Checkpoint, len(v.opts.Checkpoints))
	for _, c := range v.opts.Checkpoints {
		v.cps[c.Seq] = c
		if c.Seq >= v.maxCP.Seq {
			v.maxCP = c
		}
	}
}

func (v *Verifier) done() bool { return v.report.Problem != nil }

// Check reads one stream named name (used in problems). It returns an error
// only when the stream cannot be read; defects go into the report.
func (v *Verifier) Check(name string, r io.Reader) error {
	v.report.Files++
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), v.opts.MaxLineBytes)
	line := 0
	for sc.Scan() && !v.done() {
		line++
		raw := sc.Bytes()
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		if v.gap != nil {
			v.lookAhead(name, line, raw)
			continue
		}
		v.checkLine(name, line, raw)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			v.fail(Problem{File: name, Line: line + 1, Kind: ProblemMalformed, Detail: "line longer than the maximum record size"})
			return nil
		}
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

func (v *Verifier) checkLine(name string, line int, raw []byte) {
	at := Problem{File: name, Line: line}
	ev, err := decodeStrict(raw)
	if err != nil {
		at.Kind, at.Detail = ProblemMalformed, err.Error()
		v.fail(at)
		return
	}
	at.Seq = ev.Seq
	if got := ev.ComputeHash(); got != ev.Hash {
		at.Kind, at.Detail = ProblemModified, fmt.Sprintf("record seq %d: content does not match its hash", ev.Seq)
		v.fail(at)
		return
	}
	if !v.started {
		v.start(at, ev)
		return
	}
	want := v.prev.seq + 1
	switch {
	case ev.Seq > want:
		at.Kind = ProblemMissing
		at.Detail = fmt.Sprintf("seq %d follows seq %d (at %s): %s missing", ev.Seq, v.prev.seq, v.prevAt, seqRange(want, ev.Seq-1))
		v.gap, v.gapLo, v.gapHi, v.gapLines = &at, want, ev.Seq-1, v.opts.Lookahead
		return
	case ev.Seq < want:
		at.Kind = ProblemReordered
		at.Detail = fmt.Sprintf("seq %d follows seq %d (at %s)", ev.Seq, v.prev.seq, v.prevAt)
		v.fail(at)
		return
	}
	if ev.PrevHash != v.prev.hash {
		at.Kind = ProblemBrokenLink
		at.Detail = fmt.Sprintf("prev_hash does not match the hash of seq %d (at %s): that record was replaced", v.prev.seq, v.prevAt)
		v.fail(at)
		return
	}
	v.accept(name, line, ev)
}

func (v *Verifier) start(at Problem, ev Event) {
	if !v.opts.Partial {
		if ev.Seq != 1 {
			at.Kind = ProblemMissing
			at.Detail = fmt.Sprintf("chain starts at seq %d, not 1 (use partial verification for pruned files)", ev.Seq)
			v.fail(at)
			return
		}
		if ev.PrevHash != v.opts.Anchor {
			at.Kind = ProblemBrokenLink
			at.Detail = "first record's prev_hash is not the chain anchor"
			v.fail(at)
			return
		}
	}
	v.started = true
	v.report.FirstSeq = ev.Seq
	v.accept(at.File, at.Line, ev)
}

func (v *Verifier) accept(name string, line int, ev Event) {
	if c, ok := v.cps[ev.Seq]; ok {
		if c.Hash != ev.Hash {
			v.fail(Problem{File: name, Line: line, Seq: ev.Seq, Kind: ProblemCheckpoint,
				Detail: fmt.Sprintf("record seq %d is not the record signed by checkpoint %d: the chain was rewritten", ev.Seq, c.N)})
			return
		}
		v.report.Checkpoints++
		v.signedSeq = ev.Seq
	}
	v.prev = chainState{seq: ev.Seq, hash: ev.Hash}
	v.prevAt = fmt.Sprintf("%s:%d", displayName(name), line)
	v.report.Records++
	v.report.LastSeq = ev.Seq
	v.report.Head = ev.Hash
}

// lookAhead searches the lines after a gap for a missing seq: finding one
// means the records were reordered rather than deleted.
func (v *Verifier) lookAhead(name string, line int, raw []byte) {
	var probe struct {
		Seq uint64 `json:"seq"`
	}
	if json.Unmarshal(raw, &probe) == nil && probe.Seq >= v.gapLo && probe.Seq <= v.gapHi {
		p := *v.gap
		p.Kind = ProblemReordered
		p.Detail = fmt.Sprintf("seq %d appears where seq %d belongs; seq %d is at %s:%d",
			p.Seq, v.gapLo, probe.Seq, displayName(name), line)
		v.gap = nil
		v.fail(p)
		return
	}
	v.gapLines--
	if v.gapLines <= 0 {
		v.fail(*v.gap)
		v.gap = nil
	}
}

func (v *Verifier) fail(p Problem) {
	if v.report.Problem == nil {
		v.report.OK = false
		v.report.Problem = &p
	}
}

// Finish returns the report once every stream was checked.
func (v *Verifier) Finish() Report {
	if v.gap != nil {
		v.fail(*v.gap)
		v.gap = nil
	}
	if v.report.OK && v.opts.ExpectHead != "" && v.report.Head != v.opts.ExpectHead {
		v.fail(Problem{Seq: v.report.LastSeq, Kind: ProblemHead,
			Detail: fmt.Sprintf("last record (seq %d, at %s) is not the expected head: records were cut off the end", v.report.LastSeq, v.prevAt)})
	}
	if v.report.OK && v.cps != nil {
		v.finishCheckpoints()
	}
	return v.report
}

// finishCheckpoints catches a cut tail and too many unsigned records.
func (v *Verifier) finishCheckpoints() {
	r := &v.report
	if len(v.cps) > 0 && v.maxCP.Seq > r.LastSeq {
		v.fail(Problem{Seq: r.LastSeq, Kind: ProblemTruncated,
			Detail: fmt.Sprintf("checkpoint %d signs seq %d but the files end at seq %d (at %s): records were cut off the end",
				v.maxCP.N, v.maxCP.Seq, r.LastSeq, v.prevAt)})
		return
	}
	r.SignedSeq = v.signedSeq
	r.Unsigned = uint64(r.Records)
	if v.signedSeq > 0 {
		r.Unsigned = r.LastSeq - v.signedSeq
	} else if r.Records > 0 && v.opts.MaxUnsigned >= 0 {
		v.fail(Problem{Seq: r.LastSeq, Kind: ProblemUnsigned,
			Detail: "no record is covered by a signed checkpoint: the checkpoints were removed or the chain was never signed"})
		return
	}
	if v.opts.MaxUnsigned >= 0 && r.Unsigned > uint64(v.opts.MaxUnsigned) {
		v.fail(Problem{Seq: r.LastSeq, Kind: ProblemUnsigned,
			Detail: fmt.Sprintf("%d records after the last signed checkpoint (seq %d), more than the %d allowed: checkpoints were removed or the chain was not signed",
				r.Unsigned, v.signedSeq, v.opts.MaxUnsigned)})
	}
}

// decodeStrict decodes one record, refusing anything the writer never
// writes: unknown fields, and (before encoding/json, which matches keys
// without regard to case and keeps the last duplicate) a key that is not
// exactly one of the record's names, or one written twice. Else a record
// whose "principal":"mallory","Principal":"key_1" decodes (and hashes) as
// the original would pass, while every other reader of the file sees the
// forged actor.
func decodeStrict(raw []byte) (Event, error) {
	if err := exactKeys(raw); err != nil {
		return Event{}, err
	}
	var ev Event
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return Event{}, fmt.Errorf("decoding record: %w", err)
	}
	if dec.More() {
		return Event{}, errors.New("decoding record: trailing data after the JSON object")
	}
	return ev, nil
}

// eventKeys are the record's JSON names, as its writer spells them.
var eventKeys = func() map[string]bool {
	keys := map[string]bool{}
	t := reflect.TypeFor[Event]()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			keys[name] = true
		}
	}
	return keys
}()

// exactKeys checks that every top-level key of the record raw is one of
// eventKeys, spelled exactly (no escape, no other case), and appears once.
func exactKeys(raw []byte) error {
	raw = bytes.TrimSpace(raw)
	seen := make(map[string]bool, len(eventKeys))
	var bad error
	_, ok := jsonenc.Members(raw, 0, 1, func(key []byte, v int) (int, bool) {
		k := string(key)
		switch {
		case bad != nil:
		case !eventKeys[k]:
			bad = fmt.Errorf("decoding record: unknown or misspelled field %q", clip(k, 64))
		case seen[k]:
			bad = fmt.Errorf("decoding record: field %q written twice", k)
		}
		seen[k] = true
		return jsonenc.Value(raw, v, 1)
	})
	if bad != nil {
		return bad
	}
	if !ok {
		return errors.New("decoding record: not a JSON object")
	}
	return nil
}

func displayName(name string) string {
	if name == "" {
		return "<input>"
	}
	return name
}

func seqRange(lo, hi uint64) string {
	if lo == hi {
		return fmt.Sprintf("record %d is", lo)
	}
	return fmt.Sprintf("records %d..%d are", lo, hi)
}
