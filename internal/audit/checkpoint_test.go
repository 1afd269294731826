package audit_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/testkit"
)

type cpEnv struct {
	dir, file, cps string
	keys           map[string]ed25519.PublicKey
	privs          map[string]ed25519.PrivateKey
}

func newCPEnv(t *testing.T) *cpEnv {
	dir := t.TempDir()
	e := &cpEnv{dir: dir, file: filepath.Join(dir, "audit.jsonl"), cps: filepath.Join(dir, "checkpoints.jsonl"),
		keys: map[string]ed25519.PublicKey{}, privs: map[string]ed25519.PrivateKey{}}
	for _, id := range []string{"k1", "k2"} {
		seed, pub, err := audit.NewCheckpointSeed()
		if err != nil {
			t.Fatal(err)
		}
		priv, err := audit.ParseCheckpointSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		e.privs[id] = priv
		if e.keys[id], err = audit.ParseCheckpointPublicKey(pub); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// open returns a checkpointing file sink signing with key id.
func (e *cpEnv) open(t *testing.T, id string) (*audit.CheckpointSink, error) {
	t.Helper()
	fs, err := audit.NewFileSink(audit.FileOptions{Path: e.file, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.WithCheckpoints(fs, fs.Files, audit.CheckpointOptions{Path: e.cps,
		Key: audit.CheckpointKey{ID: id, Key: e.privs[id]}, Every: 100, Interval: time.Hour, Chain: "test"})
	if err != nil {
		fs.Close()
	}
	return s, err
}

// write delivers evs in batches of 50 as the Writer would: Write, then Sync.
func write(t *testing.T, s *audit.CheckpointSink, evs []audit.Event) {
	t.Helper()
	for i := 0; i < len(evs); i += 50 {
		if err := s.Write(context.Background(), evs[i:min(i+50, len(evs))]); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *cpEnv) verify(t *testing.T, keys map[string]ed25519.PublicKey, maxUnsigned int) audit.Report {
	t.Helper()
	opts := audit.VerifyOptions{MaxUnsigned: maxUnsigned}
	if keys != nil {
		cps, err := audit.ReadCheckpoints(e.cps)
		if err != nil {
			t.Fatal(err)
		}
		opts.CheckpointKeys, opts.Checkpoints = keys, cps
	}
	rep, err := audit.VerifyFiles([]string{e.file}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// writeTrail writes 250 records signed with k1: checkpoints at seq 100,
// 200 and, on Close, 250.
func (e *cpEnv) writeTrail(t *testing.T) []audit.Event {
	s, err := e.open(t, "k1")
	if err != nil {
		t.Fatal(err)
	}
	evs := chain(250, 0, audit.ZeroHash)
	write(t, s, evs)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return evs
}

func readLines(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func writeLines(t *testing.T, path string, lines []string) {
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestCheckpointsIntact(t *testing.T) {
	e := newCPEnv(t)
	e.writeTrail(t)
	cps, _ := audit.ReadCheckpoints(e.cps)
	var seqs []uint64
	for _, c := range cps {
		seqs = append(seqs, c.Seq)
	}
	if len(seqs) != 3 || seqs[0] != 100 || seqs[1] != 200 || seqs[2] != 250 {
		t.Fatalf("checkpoints at %v, want [100 200 250]", seqs)
	}
	rep := e.verify(t, e.keys, 0)
	if !rep.OK || rep.Checkpoints != 3 || rep.SignedSeq != 250 || rep.Unsigned != 0 {
		t.Fatalf("report %+v %v", rep, rep.Problem)
	}
}

// TestCheckpointsCatchTruncation: cutting the tail passes the unkeyed
// chain check but not the keyed one.
func TestCheckpointsCatchTruncation(t *testing.T) {
	e := newCPEnv(t)
	e.writeTrail(t)
	lines := readLines(t, e.file)
	writeLines(t, e.file, lines[:240])
	if rep := e.verify(t, nil, 0); !rep.OK {
		t.Fatalf("without keys the cut chain should still verify (that is the weakness): %v", rep.Problem)
	}
	rep := e.verify(t, e.keys, 1000)
	if rep.OK || rep.Problem.Kind != audit.ProblemTruncated {
		t.Fatalf("truncated tail with keys: %+v %v", rep, rep.Problem)
	}
	// Cutting the newest checkpoint too leaves 40 unsigned records: caught
	// when none may be unsigned (a cleanly closed trail), not with a live
	// file's allowance. This is the documented limit.
	cps := readLines(t, e.cps)
	writeLines(t, e.cps, cps[:2])
	if rep := e.verify(t, e.keys, 0); rep.OK || rep.Problem.Kind != audit.ProblemUnsigned {
		t.Fatalf("cut tail and checkpoint, no unsigned allowed: %v", rep.Problem)
	}
	if rep := e.verify(t, e.keys, 1000); !rep.OK || rep.Unsigned != 40 {
		t.Fatalf("cut tail and checkpoint, live allowance: %+v", rep)
	}
	// Removing every checkpoint is never accepted.
	writeLines(t, e.cps, nil)
	os.WriteFile(e.cps, nil, 0o640)
	if rep := e.verify(t, e.keys, 1000); rep.OK || rep.Problem.Kind != audit.ProblemUnsigned {
		t.Fatalf("no checkpoints: %v", rep.Problem)
	}
}

// TestCheckpointsCatchRecomputedChain: a record changed and every hash
// after it recomputed passes the unkeyed check but not the keyed one.
func TestCheckpointsCatchRecomputedChain(t *testing.T) {
	e := newCPEnv(t)
	evs := e.writeTrail(t)
	evs[119].Principal = "someone_else"
	for i := 119; i < len(evs); i++ {
		if i > 0 {
			evs[i].PrevHash = evs[i-1].Hash
		}
		evs[i].Hash = evs[i].ComputeHash()
	}
	if err := os.WriteFile(e.file, jsonLines(t, evs), 0o640); err != nil {
		t.Fatal(err)
	}
	if rep := e.verify(t, nil, 0); !rep.OK {
		t.Fatalf("without keys a recomputed chain verifies (the weakness): %v", rep.Problem)
	}
	rep := e.verify(t, e.keys, 1000)
	if rep.OK || rep.Problem.Kind != audit.ProblemCheckpoint || rep.Problem.Seq != 200 {
		t.Fatalf("recomputed chain with keys: %+v %v", rep, rep.Problem)
	}
	// The sink refuses to continue (and sign) the rewritten chain.
	if _, err := e.open(t, "k1"); err == nil || !strings.Contains(err.Error(), "checkpoint") {
		t.Fatalf("reopen over a rewritten chain: %v", err)
	}
}

func TestCheckpointsTampered(t *testing.T) {
	e := newCPEnv(t)
	e.writeTrail(t)
	cps := readLines(t, e.cps)

	writeLines(t, e.cps, []string{cps[0], cps[2]}) // middle one removed
	if rep := e.verify(t, e.keys, 1000); rep.OK || rep.Problem.Kind != audit.ProblemCheckpoint {
		t.Fatalf("removed checkpoint: %v", rep.Problem)
	}

	var c audit.Checkpoint
	json.Unmarshal([]byte(cps[2]), &c)
	c.Seq, c.Hash = 240, "forged"
	forged, _ := json.Marshal(c)
	writeLines(t, e.cps, []string{cps[0], cps[1], string(forged)})
	if rep := e.verify(t, e.keys, 1000); rep.OK || rep.Problem.Kind != audit.ProblemCheckpoint {
		t.Fatalf("forged checkpoint: %v", rep.Problem)
	}

	writeLines(t, e.cps, cps)
	if rep := e.verify(t, map[string]ed25519.PublicKey{"k1": e.keys["k2"]}, 1000); rep.OK || rep.Problem.Kind != audit.ProblemCheckpoint {
		t.Fatalf("wrong public key: %v", rep.Problem)
	}
}

// TestCheckpointKeyRotation: the trail goes on under a new key; verifying
// needs both public keys, and the chain of checkpoints runs across the
// change.
func TestCheckpointKeyRotation(t *testing.T) {
	e := newCPEnv(t)
	evs := e.writeTrail(t)
	s, err := e.open(t, "k2")
	if err != nil {
		t.Fatal(err)
	}
	more := chain(150, evs[len(evs)-1].Seq, evs[len(evs)-1].Hash)
	write(t, s, more)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	cps, _ := audit.ReadCheckpoints(e.cps)
	if last := cps[len(cps)-1]; last.KeyID != "k2" || last.Seq != 400 || last.N != uint64(len(cps)) {
		t.Fatalf("last checkpoint %+v", last)
	}
	if rep := e.verify(t, e.keys, 0); !rep.OK || rep.SignedSeq != 400 {
		t.Fatalf("both keys: %+v %v", rep, rep.Problem)
	}
	if rep := e.verify(t, map[string]ed25519.PublicKey{"k2": e.keys["k2"]}, 0); rep.OK {
		t.Fatal("verified without the retired key")
	}
}

// TestCheckpointsThroughWriter: the Writer's cursor saves sign the file
// sink's head, and Close signs the last record.
func TestCheckpointsThroughWriter(t *testing.T) {
	e := newCPEnv(t)
	fs, err := audit.NewFileSink(audit.FileOptions{Path: e.file, DeferSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.WithCheckpoints(fs, fs.Files, audit.CheckpointOptions{Path: e.cps,
		Key: audit.CheckpointKey{ID: "k1", Key: e.privs["k1"]}, Every: 50, Chain: "test"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := audit.New(fastOptions(filepath.Join(e.dir, "spool"), audit.NamedSink{Name: "file", Sink: s}))
	if err != nil {
		t.Fatal(err)
	}
	startWriter(t, w)
	for i := range 300 {
		w.Record(newEvent(i))
	}
	testkit.Eventually(t, 15*time.Second, "300 records in the file", func() bool { return sinkStats(w, "file").Delivered == 300 })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rep := e.verify(t, e.keys, 0)
	if !rep.OK || rep.Records != 300 || rep.SignedSeq != 300 || rep.Checkpoints < 1 {
		t.Fatalf("report %+v %v", rep, rep.Problem)
	}
}

// TestCheckpointsAcrossRotation: rotated files are verified and signed
// like one file; the check at open reads only the files that matter.
func TestCheckpointsAcrossRotation(t *testing.T) {
	e := newCPEnv(t)
	open := func(id string) *audit.CheckpointSink {
		fs, err := audit.NewFileSink(audit.FileOptions{Path: e.file, NoSync: true, MaxBytes: 8 << 10, MaxFiles: -1})
		if err != nil {
			t.Fatal(err)
		}
		s, err := audit.WithCheckpoints(fs, fs.Files, audit.CheckpointOptions{Path: e.cps,
			Key: audit.CheckpointKey{ID: id, Key: e.privs[id]}, Every: 100, Interval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open("k1")
	evs := chain(300, 0, audit.ZeroHash)
	write(t, s, evs)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open("k1") // the open-time check over rotated files
	write(t, s, chain(10, 300, evs[299].Hash))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "audit*.jsonl"))
	if len(files) < 3 {
		t.Fatalf("want rotated files, got %v", files)
	}
	cps, _ := audit.ReadCheckpoints(e.cps)
	rep, err := audit.VerifyFiles(files, audit.VerifyOptions{CheckpointKeys: e.keys, Checkpoints: cps})
	if err != nil || !rep.OK || rep.SignedSeq != 310 {
		t.Fatalf("%v %+v %v", err, rep, rep.Problem)
	}
}
