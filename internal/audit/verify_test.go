package audit_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/audit"
)

func TestVerifyIntactChain(t *testing.T) {
	evs := chain(20, 0, audit.ZeroHash)
	rep, err := audit.Verify(bytes.NewReader(jsonLines(t, evs)), audit.VerifyOptions{ExpectHead: evs[19].Hash})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Records != 20 || rep.FirstSeq != 1 || rep.LastSeq != 20 || rep.Head != evs[19].Hash {
		t.Fatalf("report = %+v, problem %v", rep, rep.Problem)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(evs []audit.Event) []audit.Event
		opts     audit.VerifyOptions
		wantKind audit.ProblemKind
		wantLine int
	}{
		{
			name: "modified field",
			tamper: func(evs []audit.Event) []audit.Event {
				evs[4].Principal = "someone_else"
				return evs
			},
			wantKind: audit.ProblemModified, wantLine: 5,
		},
		{
			name: "modified and rehashed",
			tamper: func(evs []audit.Event) []audit.Event {
				evs[4].Status = 500
				evs[4].Hash = evs[4].ComputeHash()
				return evs
			},
			wantKind: audit.ProblemBrokenLink, wantLine: 6,
		},
		{
			name: "deleted record",
			tamper: func(evs []audit.Event) []audit.Event {
				return append(evs[:6:6], evs[7:]...)
			},
			wantKind: audit.ProblemMissing, wantLine: 7,
		},
		{
			name: "deleted first record",
			tamper: func(evs []audit.Event) []audit.Event {
				return evs[1:]
			},
			wantKind: audit.ProblemMissing, wantLine: 1,
		},
		{
			name: "swapped neighbours",
			tamper: func(evs []audit.Event) []audit.Event {
				evs[2], evs[3] = evs[3], evs[2]
				return evs
			},
			wantKind: audit.ProblemReordered, wantLine: 3,
		},
		{
			name: "record moved to the end",
			tamper: func(evs []audit.Event) []audit.Event {
				moved := evs[8]
				evs = append(evs[:8:8], evs[9:]...)
				return append(evs, moved)
			},
			wantKind: audit.ProblemReordered, wantLine: 9,
		},
		{
			name: "duplicated record",
			tamper: func(evs []audit.Event) []audit.Event {
				return append(evs[:11:11], evs[10:]...)
			},
			wantKind: audit.ProblemReordered, wantLine: 12,
		},
		{
			name:     "cut off the end",
			tamper:   func(evs []audit.Event) []audit.Event { return evs[:15] },
			opts:     audit.VerifyOptions{ExpectHead: "set below"},
			wantKind: audit.ProblemHead, wantLine: 0,
		},
		{
			name: "wrong anchor",
			tamper: func(evs []audit.Event) []audit.Event {
				return evs
			},
			opts:     audit.VerifyOptions{Anchor: strings.Repeat("ab", 32)},
			wantKind: audit.ProblemBrokenLink, wantLine: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			evs := chain(20, 0, audit.ZeroHash)
			if tt.opts.ExpectHead != "" {
				tt.opts.ExpectHead = evs[19].Hash
			}
			evs = tt.tamper(evs)
			rep, err := audit.Verify(bytes.NewReader(jsonLines(t, evs)), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || rep.Problem == nil {
				t.Fatalf("tampering not detected: %+v", rep)
			}
			if rep.Problem.Kind != tt.wantKind || rep.Problem.Line != tt.wantLine {
				t.Fatalf("problem = %s, want kind %s at line %d", rep.Problem, tt.wantKind, tt.wantLine)
			}
		})
	}
}

func TestVerifyRejectsAddedFieldAndBadJSON(t *testing.T) {
	evs := chain(3, 0, audit.ZeroHash)
	lines := strings.Split(strings.TrimSpace(string(jsonLines(t, evs))), "\n")
	lines[1] = strings.Replace(lines[1], `{"id"`, `{"note":"x","id"`, 1)
	rep, err := audit.Verify(strings.NewReader(strings.Join(lines, "\n")), audit.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK || rep.Problem.Kind != audit.ProblemMalformed || rep.Problem.Line != 2 {
		t.Fatalf("added field: %+v %v", rep, rep.Problem)
	}
	rep, _ = audit.Verify(strings.NewReader(lines[0]+"\n{not json\n"), audit.VerifyOptions{})
	if rep.OK || rep.Problem.Kind != audit.ProblemMalformed || rep.Problem.Line != 2 {
		t.Fatalf("bad json: %+v %v", rep, rep.Problem)
	}
}

// TestVerifyFilesAcrossRotation checks a chain split over several files and
// reports problems with the right file name.
func TestVerifyFilesAcrossRotation(t *testing.T) {
	dir := t.TempDir()
	evs := chain(30, 0, audit.ZeroHash)
	write := func(name string, part []audit.Event) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, jsonLines(t, part), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("audit-1.jsonl", evs[:10])
	b := write("audit-2.jsonl", evs[10:20])
	c := write("audit.jsonl", evs[20:])

	rep, err := audit.VerifyFiles([]string{a, b, c}, audit.VerifyOptions{})
	if err != nil || !rep.OK || rep.Records != 30 || rep.Files != 3 {
		t.Fatalf("intact files: %+v %v err %v", rep, rep.Problem, err)
	}

	// The oldest file was pruned: only partial verification passes.
	rep, _ = audit.VerifyFiles([]string{b, c}, audit.VerifyOptions{})
	if rep.OK || rep.Problem.Kind != audit.ProblemMissing {
		t.Fatalf("pruned chain without partial: %+v", rep)
	}
	rep, _ = audit.VerifyFiles([]string{b, c}, audit.VerifyOptions{Partial: true})
	if !rep.OK || rep.FirstSeq != 11 {
		t.Fatalf("pruned chain with partial: %+v %v", rep, rep.Problem)
	}

	// Files given out of order.
	rep, _ = audit.VerifyFiles([]string{a, c, b}, audit.VerifyOptions{})
	if rep.OK || rep.Problem.File != c || rep.Problem.Line != 1 || rep.Problem.Kind != audit.ProblemReordered {
		t.Fatalf("files out of order: %+v %v", rep, rep.Problem)
	}

	// A record edited in the middle file.
	edited := evs[10:20]
	edited[3].Model = "deepseek-reasoner"
	write("audit-2.jsonl", edited)
	rep, _ = audit.VerifyFiles([]string{a, b, c}, audit.VerifyOptions{})
	if rep.OK || rep.Problem.File != b || rep.Problem.Line != 4 || rep.Problem.Kind != audit.ProblemModified {
		t.Fatalf("edited middle file: %+v %v", rep, rep.Problem)
	}

	if _, err := audit.VerifyFiles([]string{filepath.Join(dir, "absent.jsonl")}, audit.VerifyOptions{}); err == nil {
		t.Fatal("missing file: want an error")
	}
}

func TestCanonicalHashIgnoresJSONFormatting(t *testing.T) {
	ev := chain(1, 0, audit.ZeroHash)[0]
	raw, _ := json.Marshal(ev)
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	// Re-encode with other key order and indentation, and the time in +08:00.
	generic["request_at"] = ev.RequestAt.In(fixedZone()).Format("2006-01-02T15:04:05.999999999Z07:00")
	re, _ := json.MarshalIndent(generic, "", "  ")
	var back audit.Event
	if err := json.Unmarshal(re, &back); err != nil {
		t.Fatal(err)
	}
	if back.ComputeHash() != ev.Hash {
		t.Fatal("hash changed with JSON formatting or time zone")
	}
}

func fixedZone() *time.Location { return time.FixedZone("UTC+8", 8*3600) }

// FuzzVerify: Verify reads files an attacker may have edited; it must never
// panic and must report OK only for an intact chain.
func FuzzVerify(f *testing.F) {
	good := jsonLines(&testing.T{}, chain(2, 0, audit.ZeroHash))
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("{}\n{\"seq\":1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := audit.Verify(bytes.NewReader(data), audit.VerifyOptions{Lookahead: 10})
		if err != nil {
			return
		}
		if rep.OK != (rep.Problem == nil) {
			t.Fatalf("OK %v with problem %v", rep.OK, rep.Problem)
		}
		if rep.OK && rep.Records > 0 && (rep.FirstSeq != 1 || rep.LastSeq != uint64(rep.Records)) {
			t.Fatalf("OK chain with seqs %d..%d over %d records", rep.FirstSeq, rep.LastSeq, rep.Records)
		}
	})
}
