package config

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes config parsing panic, and that a
// file that parses also passes its own validation again.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"../../examples/quickstart.yaml", "testdata/full.good.yaml", "testdata/many.bad.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add("version: 1\nmodels: [{name: m, targets: [{upstream: x}]}]\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("parsed config fails validation: %v", err)
		}
	})
}
