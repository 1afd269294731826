package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/dsgate/dsgate/internal/durable"
)

// A hash chain alone is unkeyed: whoever can write the files can drop the
// tail, or change a record and recompute every hash after it, and the chain
// still verifies. Signed checkpoints close that: every so often the file
// sink's head (seq and hash of the last durable record) is signed with an
// Ed25519 key held apart from the audit files, and appended to a checkpoint
// file. Verifying with the public keys then proves that every record up to
// the last checkpoint is exactly what was written (a rewritten record or a
// recomputed chain no longer matches a signed hash; records cut off before
// a signed seq leave that checkpoint pointing past the end). Checkpoints
// are chained (n counts up, prev is the previous signature), so removing
// one from the middle shows too. Keys rotate by id: the gateway signs with
// one key, verification accepts any listed public key.
//
// What it cannot prove from the files alone: records after the last
// checkpoint (at most CheckpointOptions.Every records or Interval of time
// on a running gateway, none after a clean shutdown) are unsigned, and a
// tail removed together with its newest checkpoints looks like a gateway
// that stopped earlier. Every checkpoint is also logged, so a log
// collector holds a copy to compare with.

// checkpointVersion prefixes the signed message.
const checkpointVersion = "dsgate-audit-checkpoint-v1\n"

// Checkpoint is one signed statement "the chain's record Seq has Hash".
type Checkpoint struct {
	N     uint64    `json:"n"`     // 1 for the first checkpoint of a file, then +1
	Chain string    `json:"chain"` // the chain id of the records
	Seq   uint64    `json:"seq"`
	Hash  string    `json:"hash"`
	At    time.Time `json:"at"`
	Prev  string    `json:"prev"` // signature of checkpoint N-1; empty for N=1
	KeyID string    `json:"kid"`
	Sig   string    `json:"sig"` // base64 Ed25519 signature of message()
}

// message is what is signed: every field but Sig, each on its own line.
func (c *Checkpoint) message() []byte {
	b := make([]byte, 0, 256)
	b = append(b, checkpointVersion...)
	for _, f := range []string{strconv.FormatUint(c.N, 10), c.Chain, strconv.FormatUint(c.Seq, 10), c.Hash,
		c.At.UTC().Format(time.RFC3339Nano), c.Prev, c.KeyID} {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, '\n')
	}
	return b
}

// CheckpointKey is the private key that signs checkpoints, with its id.
type CheckpointKey struct {
	ID  string
	Key ed25519.PrivateKey
}

// ParseCheckpointSeed turns a base64 Ed25519 seed (32 bytes, as printed by
// `dsgate audit keygen`) into a private key.
func ParseCheckpointSeed(s string) (ed25519.PrivateKey, error) {
	seed, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, errors.New("audit checkpoint key: want a base64 Ed25519 seed of 32 bytes")
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ParseCheckpointPublicKey decodes a base64 Ed25519 public key.
func ParseCheckpointPublicKey(s string) (ed25519.PublicKey, error) {
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(k) != ed25519.PublicKeySize {
		return nil, errors.New("audit checkpoint public key: want base64 of 32 bytes")
	}
	return ed25519.PublicKey(k), nil
}

// NewCheckpointSeed returns a fresh seed and its public key, both base64.
func NewCheckpointSeed() (seed, public string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	return base64.StdEncoding.EncodeToString(priv.Seed()), base64.StdEncoding.EncodeToString(pub), nil
}

// ReadCheckpoints reads a checkpoint file; a missing file has none.
func ReadCheckpoints(path string) ([]Checkpoint, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening checkpoints: %w", err)
	}
	defer f.Close()
	return decodeCheckpoints(f)
}

func decodeCheckpoints(r io.Reader) ([]Checkpoint, error) {
	var out []Checkpoint
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var c Checkpoint
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("checkpoint line %d: %w", line, err)
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading checkpoints: %w", err)
	}
	return out, nil
}

// checkCheckpoints verifies signatures and the checkpoints' own chain. It
// returns a description of the first defect, or "".
func checkCheckpoints(cps []Checkpoint, keys map[string]ed25519.PublicKey, partial bool) string {
	for i, c := range cps {
		pub, ok := keys[c.KeyID]
		if !ok {
			return fmt.Sprintf("checkpoint %d is signed with key %q, which is not among the verification keys", c.N, c.KeyID)
		}
		sig, err := base64.StdEncoding.DecodeString(c.Sig)
		if err != nil || !ed25519.Verify(pub, c.message(), sig) {
			return fmt.Sprintf("checkpoint %d (seq %d): bad signature", c.N, c.Seq)
		}
		if i == 0 {
			if !partial && (c.N != 1 || c.Prev != "") {
				return fmt.Sprintf("checkpoints start at n=%d, not 1: earlier ones were removed", c.N)
			}
			continue
		}
		p := cps[i-1]
		switch {
		case c.N != p.N+1:
			return fmt.Sprintf("checkpoint %d follows checkpoint %d: checkpoints were removed or reordered", c.N, p.N)
		case c.Prev != p.Sig:
			return fmt.Sprintf("checkpoint %d does not link to checkpoint %d", c.N, p.N)
		case c.Seq < p.Seq:
			return fmt.Sprintf("checkpoint %d signs seq %d, below checkpoint %d's seq %d", c.N, c.Seq, p.N, p.Seq)
		}
	}
	return ""
}

// CheckpointOptions configures WithCheckpoints.
type CheckpointOptions struct {
	// Path of the checkpoint file (JSON lines), e.g. beside the audit file.
	Path string
	Key  CheckpointKey
	// Every signs the head once this many records were written since the
	// last checkpoint; default 1000.
	Every int
	// Interval signs the head once this long passed since the last
	// checkpoint and records were written; default 10s.
	Interval time.Duration
	Chain    string           // the Writer's ChainID
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger     // each checkpoint is logged at Info; default discards
}

// CheckpointSink wraps a file sink (a Sink that is a Tailer, with the
// files it holds) and signs its head after it was made durable: in Sync,
// which the Writer calls before it saves the sink's cursor, and in Close.
type CheckpointSink struct {
	inner interface {
		Sink
		Tailer
	}
	opts CheckpointOptions

	mu    sync.Mutex
	f     *os.File
	last  Checkpoint // zero before the first
	since time.Time  // of the last checkpoint, or of the open
}

var (
	_ Sink   = (*CheckpointSink)(nil)
	_ Tailer = (*CheckpointSink)(nil)
)

// WithCheckpoints returns inner with checkpoints. At open it checks that
// the records inner holds still match the last checkpoint (reading the
// files that files lists, oldest first; nil skips that), so that a tail
// changed or cut while the gateway was down is not signed later: the open
// fails instead.
func WithCheckpoints(inner interface {
	Sink
	Tailer
}, files func() ([]string, error), opts CheckpointOptions) (*CheckpointSink, error) {
	if opts.Path == "" || opts.Key.ID == "" || len(opts.Key.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("audit checkpoints: path, key id and key are required")
	}
	if opts.Every <= 0 {
		opts.Every = 1000
	}
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	cps, err := ReadCheckpoints(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	s := &CheckpointSink{inner: inner, opts: opts, since: opts.Now()}
	if len(cps) > 0 {
		s.last = cps[len(cps)-1]
		if err := s.checkTail(files); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o750); err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	s.f, err = os.OpenFile(opts.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("audit checkpoints: %w", err)
	}
	return s, nil
}

// checkTail verifies the held records against the last checkpoint.
func (s *CheckpointSink) checkTail(files func() ([]string, error)) error {
	seq, _, ok := s.inner.Tail()
	switch {
	case !ok:
		return fmt.Errorf("audit checkpoints: %s signs up to seq %d but the audit files hold no records: they were removed (start a new chain by moving the checkpoint file away too)", s.opts.Path, s.last.Seq)
	case seq < s.last.Seq:
		return fmt.Errorf("audit checkpoints: checkpoint %d signs seq %d but the audit files end at seq %d: records were removed", s.last.N, s.last.Seq, seq)
	case files == nil:
		return nil
	}
	paths, err := files()
	if err != nil {
		return fmt.Errorf("audit checkpoints: listing audit files: %w", err)
	}
	rep, err := VerifyFiles(filesFrom(paths, s.last.Seq), VerifyOptions{Partial: true, Checkpoints: []Checkpoint{s.last},
		CheckpointKeys: map[string]ed25519.PublicKey{}, trustCheckpoints: true, MaxUnsigned: -1})
	if err != nil {
		return fmt.Errorf("audit checkpoints: %w", err)
	}
	if !rep.OK {
		return fmt.Errorf("audit checkpoints: the audit files do not match the last signed checkpoint: %s", rep.Problem)
	}
	return nil
}

var rotatedSeq = regexp.MustCompile(`-(\d{20})\.[^./]*$`)

// filesFrom keeps the files (oldest first, rotated ones named
// <base>-<first seq, 20 digits><ext>) that may hold seq or later records,
// so that the check at open reads the tail, not the whole trail.
func filesFrom(paths []string, seq uint64) []string {
	for i := len(paths) - 1; i > 0; i-- {
		m := rotatedSeq.FindStringSubmatch(filepath.Base(paths[i]))
		if m == nil {
			continue
		}
		if first, err := strconv.ParseUint(m[1], 10, 64); err == nil && first <= seq {
			return paths[i:]
		}
	}
	return paths
}

// Write passes to the inner sink.
func (s *CheckpointSink) Write(ctx context.Context, batch []Event) error {
	return s.inner.Write(ctx, batch)
}

// Tail passes to the inner sink.
func (s *CheckpointSink) Tail() (uint64, string, bool) { return s.inner.Tail() }

// Sync makes the inner sink durable, then signs its head when due.
func (s *CheckpointSink) Sync() error {
	if err := syncSink(s.inner); err != nil {
		return err
	}
	return s.checkpoint(false)
}

// Close signs the final head, then closes the inner sink and the file.
func (s *CheckpointSink) Close() error {
	err := syncSink(s.inner)
	if err == nil {
		err = s.checkpoint(true)
	}
	s.mu.Lock()
	if s.f != nil {
		err = errors.Join(err, s.f.Close())
		s.f = nil
	}
	s.mu.Unlock()
	return errors.Join(err, s.inner.Close())
}

func syncSink(sk Sink) error {
	if sy, ok := sk.(interface{ Sync() error }); ok {
		return sy.Sync()
	}
	return nil
}

// checkpoint appends a signed checkpoint for the inner sink's head when
// records were written since the last one and final, Every or Interval
// says so.
func (s *CheckpointSink) checkpoint(final bool) error {
	seq, hash, ok := s.inner.Tail()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !ok || s.f == nil || seq <= s.last.Seq && s.last.N > 0 {
		return nil
	}
	now := s.opts.Now()
	due := final || seq-s.last.Seq >= uint64(s.opts.Every) || now.Sub(s.since) >= s.opts.Interval
	if !due {
		return nil
	}
	c := Checkpoint{N: s.last.N + 1, Chain: s.opts.Chain, Seq: seq, Hash: hash, At: now.UTC(), Prev: s.last.Sig, KeyID: s.opts.Key.ID}
	c.Sig = base64.StdEncoding.EncodeToString(ed25519.Sign(s.opts.Key.Key, c.message()))
	line, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if _, err := s.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("writing audit checkpoint: %w", err)
	}
	if err := durable.Sync(s.f); err != nil {
		return fmt.Errorf("syncing audit checkpoints: %w", err)
	}
	s.last, s.since = c, now
	s.opts.Logger.Info("audit checkpoint", "n", c.N, "chain", c.Chain, "seq", c.Seq, "hash", c.Hash, "kid", c.KeyID, "sig", c.Sig)
	return nil
}
