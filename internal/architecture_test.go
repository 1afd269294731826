// Package internal_test enforces the dependency table of
// docs/ARCHITECTURE.md: it reads the table from the document and checks
// every package's imports, and its tests' imports, against it with
// `go list`. The document is the rule; a change that breaks it, or a
// package the table does not name, fails the tests.
package internal_test

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

const mod = "github.com/dsgate/dsgate/"

// row is one line of the table: what a package (and its subpackages) may
// import, and what its tests may import besides.
type row struct {
	name       string
	may, tests []string // package paths; "*" is any
}

// readTable parses the package table of docs/ARCHITECTURE.md.
func readTable(t *testing.T) []row {
	t.Helper()
	f, err := os.Open("../docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []row
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Packages"
			continue
		case !in || !strings.HasPrefix(line, "| `"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 {
			t.Fatalf("table row needs 4 cells: %s", line)
		}
		rows = append(rows, row{name: strings.Trim(strings.TrimSpace(cells[0]), "`"),
			may: names(cells[2]), tests: names(cells[3])})
	}
	if len(rows) < 20 {
		t.Fatalf("only %d rows in the package table of docs/ARCHITECTURE.md", len(rows))
	}
	return rows
}

// names turns "auth, store" into package paths; "—" is none.
func names(cell string) []string {
	cell = strings.TrimSpace(cell)
	if cell == "—" || cell == "" {
		return nil
	}
	var out []string
	for _, n := range strings.Split(cell, ",") {
		n = strings.Trim(strings.TrimSpace(n), "`")
		if n != "*" && !slices.ContainsFunc([]string{"cmd/", "bench", "examples", "deploy", "e2e", "internal/"},
			func(p string) bool { return strings.HasPrefix(n, p) }) {
			n = "internal/" + n
		}
		out = append(out, n)
	}
	return out
}

// within reports whether pkg is p or one of its subpackages.
func within(pkg, p string) bool { return pkg == p || strings.HasPrefix(pkg, p+"/") }

// rowOf returns the row covering pkg: the longest name it falls within.
func rowOf(rows []row, pkg string) (row, bool) {
	var best row
	found := false
	for _, r := range rows {
		if within(pkg, r.name) && len(r.name) > len(best.name) {
			best, found = r, true
		}
	}
	return best, found
}

func allowed(list []string, imp string) bool {
	return slices.ContainsFunc(list, func(p string) bool { return p == "*" || within(imp, p) })
}

// pkgImports is what go list reports of one package: its internal imports
// and its tests' internal imports.
type pkgImports struct{ imports, tests []string }

func listImports(t *testing.T) map[string]pkgImports {
	t.Helper()
	out, err := exec.Command("go", "list", "-f",
		"{{.ImportPath}}|{{join .Imports \" \"}}|{{join .TestImports \" \"}} {{join .XTestImports \" \"}}", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	internalOnly := func(s string) []string {
		var out []string
		for _, imp := range strings.Fields(s) {
			if strings.HasPrefix(imp, mod) {
				out = append(out, strings.TrimPrefix(imp, mod))
			}
		}
		return out
	}
	pkgs := map[string]pkgImports{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		pkgs[strings.TrimPrefix(f[0], mod)] = pkgImports{imports: internalOnly(f[1]), tests: internalOnly(f[2])}
	}
	return pkgs
}

// testSupport is the package of helpers every test may import and nothing
// but tests (and test-support packages such as storetest) may.
const testSupport = "internal/testkit"

func TestDependencyTable(t *testing.T) {
	rows := readTable(t)
	pkgs := listImports(t)
	used := map[string]bool{}
	names := make([]string, 0, len(pkgs))
	for pkg := range pkgs {
		names = append(names, pkg)
	}
	sort.Strings(names)
	for _, pkg := range names {
		if pkg == "internal" { // this test
			continue
		}
		r, ok := rowOf(rows, pkg)
		if !ok {
			t.Errorf("%s has no row in the package table of docs/ARCHITECTURE.md", pkg)
			continue
		}
		used[r.name] = true
		p := pkgs[pkg]
		for _, imp := range p.imports {
			if imp == testSupport || strings.HasPrefix(imp, testSupport+"/") {
				if !strings.HasSuffix(pkg, "test") { // storetest, cachetest, metricstest ...
					t.Errorf("%s imports %s, which only tests and test-support packages may", pkg, imp)
				}
				continue
			}
			if !within(imp, r.name) && !allowed(r.may, imp) {
				t.Errorf("%s imports %s; its row (%s) allows %v", pkg, imp, r.name, r.may)
			}
		}
		for _, imp := range p.tests {
			if imp == testSupport || strings.HasPrefix(imp, testSupport+"/") {
				continue // any test may use the shared test helpers
			}
			if !within(imp, r.name) && !allowed(r.may, imp) && !allowed(r.tests, imp) {
				t.Errorf("tests of %s import %s; its row (%s) allows %v, tests also %v", pkg, imp, r.name, r.may, r.tests)
			}
		}
	}
	for _, r := range rows {
		if !used[r.name] {
			t.Errorf("the table names %s, which is no package", r.name)
		}
	}
}

// The rules the table implies, checked on the table itself so an edit
// that breaks them is caught even before code follows it.
func TestDependencyTableRules(t *testing.T) {
	rows := readTable(t)
	importers := func(pkg string, tests bool) []string {
		var out []string
		for _, r := range rows {
			list := r.may
			if tests {
				list = append(slices.Clone(r.may), r.tests...)
			}
			if r.name != pkg && slices.ContainsFunc(list, func(p string) bool { return p != "*" && within(pkg, p) }) {
				out = append(out, r.name)
			}
		}
		return out
	}
	for pkg, want := range map[string][]string{
		"internal/cli":     {"cmd/dsgate"},
		"internal/server":  {"internal/cli"},
		"internal/config":  {"internal/cli", "internal/server"},
		"internal/httpapi": {"internal/server"},
		"internal/grpcapi": {"internal/server"},
	} {
		if got := importers(pkg, false); !slices.Equal(got, want) {
			t.Errorf("%s may be imported by %v; the rule is only %v", pkg, got, want)
		}
	}
	for _, r := range rows {
		if r.name != "internal/gateway" && r.name != "internal/upstream" {
			continue
		}
		for _, banned := range []string{"internal/httpapi", "internal/grpcapi", "internal/pipeline", "internal/access",
			"internal/auth", "internal/server", "internal/batch"} {
			if allowed(append(slices.Clone(r.may), r.tests...), banned) {
				t.Errorf("%s must not import %s", r.name, banned)
			}
		}
	}
}
