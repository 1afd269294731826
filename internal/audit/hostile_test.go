package audit_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/dsgate/dsgate/internal/audit"
)

// TestHostileVerifyAcceptsShadowedField: an insider with write access to
// the audit files appends a second, differently-cased key to a record
// ("Principal" after "principal"). encoding/json matches keys without
// regard to case and keeps the last one, so Verify sees the original
// principal and the hash still matches; every other reader of the file
// (jq, Elasticsearch, a SIEM) sees the forged "principal". Verify must
// refuse a record whose bytes are not the canonical encoding of one event.
func TestHostileVerifyAcceptsShadowedField(t *testing.T) {
	evs := chain(3, 0, audit.ZeroHash)
	lines := bytes.Split(bytes.TrimSpace(jsonLines(t, evs)), []byte("\n"))
	// Record 2: other tools read principal "mallory"; Go reads "key_1".
	forged := bytes.Replace(lines[1], []byte(`"principal":"key_1"`), []byte(`"principal":"mallory","Principal":"key_1"`), 1)
	if bytes.Equal(forged, lines[1]) {
		t.Fatal("setup: principal not found")
	}
	var generic map[string]any
	if err := json.Unmarshal(forged, &generic); err != nil || generic["principal"] != "mallory" {
		t.Fatalf("setup: a case-sensitive reader should see mallory: %v %v", err, generic["principal"])
	}
	lines[1] = forged
	in := append(bytes.Join(lines, []byte("\n")), '\n')
	rep, err := audit.Verify(bytes.NewReader(in), audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK {
		t.Fatalf("a record whose principal reads %q to every case-sensitive tool verified OK: %+v", "mallory", rep)
	}
}
