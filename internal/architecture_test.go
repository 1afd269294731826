// Package internal_test checks the dependency rules of docs/ARCHITECTURE.md
// with `go list`, so a change that breaks them fails the tests.
package internal_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/dsgate/dsgate/"

func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], mod)
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, mod+"internal/") {
				imports[pkg] = append(imports[pkg], strings.TrimPrefix(imp, mod))
			}
		}
		if _, ok := imports[pkg]; !ok {
			imports[pkg] = nil
		}
	}
	// Who may import a package: only these importers (benchmarks and
	// examples under bench/ and examples/ are programs, not layers).
	onlyFrom := map[string][]string{
		"internal/cli":     {"cmd/dsgate"},
		"internal/server":  {"internal/cli"},
		"internal/config":  {"internal/server", "internal/cli"},
		"internal/httpapi": {"internal/server"},
		"internal/grpcapi": {"internal/server"},
	}
	// Leaves import no other internal package.
	leaves := []string{"internal/openai", "internal/reqscope", "internal/config", "internal/metrics",
		"internal/tlsconf", "internal/tracing", "internal/cache", "internal/sim", "internal/plan",
		"internal/modelcrypt", "internal/audit", "internal/ratelimit", "internal/jsonenc"}
	// The pipeline core never reaches up to transports or access control.
	never := map[string][]string{
		"internal/gateway":  {"internal/httpapi", "internal/grpcapi", "internal/access", "internal/auth", "internal/server"},
		"internal/upstream": {"internal/gateway", "internal/httpapi", "internal/grpcapi", "internal/auth"},
	}
	for pkg, deps := range imports {
		if strings.HasPrefix(pkg, "bench/") || strings.HasPrefix(pkg, "examples/") {
			continue
		}
		for _, d := range deps {
			if allowed, ok := onlyFrom[d]; ok && !slices.Contains(allowed, pkg) {
				t.Errorf("%s imports %s; only %v may", pkg, d, allowed)
			}
			if slices.Contains(never[pkg], d) {
				t.Errorf("%s must not import %s", pkg, d)
			}
		}
		if slices.Contains(leaves, pkg) && slices.ContainsFunc(deps, func(d string) bool { return d != "internal/jsonenc" }) {
			t.Errorf("%s is a leaf but imports %v", pkg, deps)
		}
	}
}
