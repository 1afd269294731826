package config

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/config.md from the field comments")

// TestConfigDocUpToDate keeps docs/config.md generated from this package's
// field comments: they are the reference. Run with -update after a change.
func TestConfigDocUpToDate(t *testing.T) {
	got := configDoc(t)
	const path = "../../docs/config.md"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil || string(want) != got {
		t.Fatalf("docs/config.md is stale: run go test ./internal/config -run TestConfigDocUpToDate -update")
	}
}

// configDoc renders every key reachable from Config with its comment.
func configDoc(t *testing.T) string {
	t.Helper()
	fset := token.NewFileSet()
	comments := map[string]string{} // "pkg.Type.Field" -> comment
	// The config's own types, and the feature packages whose Options the
	// config embeds inline.
	for _, dir := range []string{".", "../pricing"} {
		names, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			addComments(f, comments)
		}
	}
	return configDocText(comments)
}

// addComments collects the doc comment of every struct field in f, keyed
// "pkg.Type.Field".
func addComments(f *ast.File, comments map[string]string) {
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		for _, fld := range st.Fields.List {
			for _, name := range fld.Names {
				comments[f.Name.Name+"."+ts.Name.Name+"."+name.Name] = strings.Join(strings.Fields(fld.Doc.Text()), " ")
			}
		}
		return true
	})
}

func configDocText(comments map[string]string) string {
	var b strings.Builder
	b.WriteString("# dsgate configuration reference\n\n")
	b.WriteString("Generated from the field comments in internal/config by\n")
	b.WriteString("`go test ./internal/config -run TestConfigDocUpToDate -update`; do not edit by hand.\n\n")
	b.WriteString("The file is YAML with `version: 1`. Unknown keys are errors. Durations are Go durations (`150ms`, `30s`, `5m`).\n\n")
	b.WriteString("Any string may use `${NAME}` or `${NAME:-default}` (the default applies when NAME is unset or empty),\n")
	b.WriteString("for example `url: ${DEEPSEEK_BASE_URL:-https://api.deepseek.com}` or `dsn: ${DSGATE_POSTGRES_DSN}`;\n")
	b.WriteString("a reference to an unset variable without a default is an error. Secrets (type secret) are only ever\n")
	b.WriteString("references, `${ENV_VAR}` or `file:/path`, and print as `<secret>`. A URL or DSN written with a literal\n")
	b.WriteString("password is refused; one that comes from the environment prints with its password redacted.\n")
	b.WriteString("`dsgate config check FILE` validates a file; `dsgate config print FILE` shows it with defaults filled in.\n\n")
	b.WriteString("| key | type | meaning |\n| --- | --- | --- |\n")
	walk(&b, reflect.TypeOf(Config{}), "", comments)
	return b.String()
}

func walk(b *strings.Builder, typ reflect.Type, prefix string, comments map[string]string) {
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if opts == "inline" {
			walk(b, ft, prefix, comments)
			continue
		}
		key := prefix + name
		elem := ft
		kind := ft.Kind().String()
		switch ft.Kind() {
		case reflect.Slice:
			elem = ft.Elem()
			key += "[]"
			kind = "list"
		case reflect.Map:
			kind = "map"
		}
		if ft.String() == "time.Duration" {
			kind = "duration"
		}
		if ft.Name() == "Secret" {
			kind = "secret"
		}
		if ft.String() == "time.Time" {
			kind = "time (RFC 3339)"
		}
		comment := comments[path.Base(typ.PkgPath())+"."+typ.Name()+"."+f.Name]
		if elem.Kind() == reflect.Struct && elem.Name() != "Secret" && elem.String() != "time.Time" {
			if kind == "list" {
				kind = "list of objects"
			} else {
				kind = "object"
			}
			fmt.Fprintf(b, "| `%s` | %s | %s |\n", key, kind, comment)
			walk(b, elem, key+".", comments)
			continue
		}
		if elem.Kind() == reflect.Slice && kind == "list" {
			kind = "list of lists"
		} else if kind == "list" {
			kind = "list of " + elem.Kind().String()
		}
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", key, kind, comment)
	}
}
