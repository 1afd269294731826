package server_test

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/sim"
)

// TestAuditCheckpointsServe: with audit.checkpoints.signing_key set, serve
// signs the audit file, and a clean stop leaves no record unsigned.
func TestAuditCheckpointsServe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seed, pub, err := audit.NewCheckpointSeed()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "audit-key")
	if err := os.WriteFile(keyFile, []byte(seed), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `
version: 1
server: {listen: "127.0.0.1:0"}
log: {access: false}
audit:
  enabled: true
  dir: "` + dir + `"
  checkpoints: {key_id: k1, signing_key: "file:` + keyFile + `"}
upstreams:
  - {name: good, kind: openai, url: "$good"}
models:
  - {name: deepseek-chat, targets: [{upstream: good}]}
`
	e := start(t, cfg, map[string]sim.Options{"good": {}})
	for range 3 {
		e.post(t, "/v1/chat/completions", chatBody)
	}
	e.stop()
	<-e.done
	e.done <- nil
	cps, err := audit.ReadCheckpoints(filepath.Join(dir, "checkpoints.jsonl"))
	if err != nil || len(cps) == 0 {
		t.Fatalf("checkpoints: %v %v", cps, err)
	}
	pk, _ := audit.ParseCheckpointPublicKey(pub)
	files, _ := filepath.Glob(filepath.Join(dir, "audit*.jsonl"))
	rep, err := audit.VerifyFiles(files, audit.VerifyOptions{CheckpointKeys: map[string]ed25519.PublicKey{"k1": pk}, Checkpoints: cps})
	if err != nil || !rep.OK || rep.Records < 3 || rep.SignedSeq != rep.LastSeq {
		t.Fatalf("verify: %v %+v %v", err, rep, rep.Problem)
	}
}
