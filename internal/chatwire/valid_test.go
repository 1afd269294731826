package chatwire

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dsgate/dsgate/internal/jsonenc"
)

// jsonenc.Valid, which Decode and DecodeChunk check first, agrees with
// encoding/json on every fixture and every 7th prefix of each.
func TestValidFixtures(t *testing.T) {
	var cases []string
	files, _ := filepath.Glob("testdata/*.*")
	golden, _ := filepath.Glob("testdata/golden/*.*")
	for _, f := range append(files, golden...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimPrefix(line, "data: ")
			cases = append(cases, line)
			for i := 0; i < len(line); i += 7 {
				cases = append(cases, line[:i])
			}
		}
		cases = append(cases, string(b))
	}
	if len(cases) < 100 {
		t.Fatalf("only %d cases: fixtures missing", len(cases))
	}
	for _, c := range cases {
		if got, want := jsonenc.Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("Valid(%.80q) = %v, encoding/json says %v", c, got, want)
		}
	}
}
