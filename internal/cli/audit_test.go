package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/audit"
)

// TestAuditVerifyCheckpoints: keygen, a signed trail, and verify with the
// public key: a cut tail passes the plain chain check and fails the keyed.
func TestAuditVerifyCheckpoints(t *testing.T) {
	out, _, code := run(t, "audit", "keygen")
	m := regexp.MustCompile(`signing_key: (\S+)\npublic_key:\s+(\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("keygen: %d %q", code, out)
	}
	priv, err := audit.ParseCheckpointSeed(m[1])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "audit.jsonl")
	fs, err := audit.NewFileSink(audit.FileOptions{Path: file, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := audit.WithCheckpoints(fs, fs.Files, audit.CheckpointOptions{Path: filepath.Join(dir, "checkpoints.jsonl"),
		Key: audit.CheckpointKey{ID: "k1", Key: priv}, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var evs []audit.Event
	prev := audit.ZeroHash
	for i := 1; i <= 20; i++ {
		ev := audit.Event{ID: fmt.Sprint(i), Seq: uint64(i), PrevHash: prev, RequestAt: time.Unix(int64(i), 0).UTC()}
		ev.Hash = ev.ComputeHash()
		prev = ev.Hash
		evs = append(evs, ev)
	}
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	key := "--checkpoint-key=k1=" + m[2]
	if out, stderr, code := run(t, "audit", "verify", key, "--max-unsigned", "0", file); code != 0 || !strings.Contains(out, "signed: 1 checkpoints, up to seq 20") {
		t.Fatalf("intact: %d %q %q", code, out, stderr)
	}
	b, _ := os.ReadFile(file)
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile(file, []byte(strings.Join(lines[:15], "")), 0o640)
	if _, _, code := run(t, "audit", "verify", file); code != 0 {
		t.Fatalf("plain chain check of a cut tail: %d (it cannot tell)", code)
	}
	if out, _, code := run(t, "audit", "verify", key, file); code != auditExitTampered || !strings.Contains(out, "truncated") {
		t.Fatalf("keyed check of a cut tail: %d %q", code, out)
	}
	if _, _, code := run(t, "audit", "verify", "--checkpoint-key", "k1=bad", file); code != auditExitUnreadable {
		t.Fatalf("bad key: %d", code)
	}
}
