package e2e

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// exitReportDoc is where the report's types are documented.
const exitReportDoc = "../../docs/exit-report.md"

// fenced returns the fenced blocks of language lang in a Markdown file.
func fenced(t *testing.T, path, lang string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?ms)^```" + regexp.QuoteMeta(lang) + "\n(.*?)^```\\s*$")
	var out []string
	for _, m := range re.FindAllSubmatch(b, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

// typeDecls returns every type declaration of a Go source, each printed
// by gofmt without its comments, by name.
func typeDecls(t *testing.T, name, src string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, 0) // 0: comments dropped
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	decls := map[string]string{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.TYPE {
			continue
		}
		for _, s := range g.Specs {
			var buf bytes.Buffer
			if err := format.Node(&buf, fset, s); err != nil {
				t.Fatal(err)
			}
			decls[s.(*ast.TypeSpec).Name.Name] = buf.String()
		}
	}
	return decls
}

// TestTypesAreTheDocs holds report.go's types to the Go block of
// docs/exit-report.md: the same names, fields, types and tags.
func TestTypesAreTheDocs(t *testing.T) {
	var doc string
	for _, b := range fenced(t, exitReportDoc, "go") {
		if strings.Contains(b, "type Report struct") {
			doc = b
		}
	}
	if doc == "" {
		t.Fatalf("%s has no Go block declaring type Report", exitReportDoc)
	}
	src, err := os.ReadFile("report.go")
	if err != nil {
		t.Fatal(err)
	}
	want, got := typeDecls(t, exitReportDoc, doc), typeDecls(t, "report.go", string(src))
	if len(want) == 0 {
		t.Fatalf("no type declarations in %s's Go block", exitReportDoc)
	}
	names := func(m map[string]string) []string {
		var n []string
		for k := range m {
			n = append(n, k)
		}
		slices.Sort(n)
		return n
	}
	if !slices.Equal(names(got), names(want)) {
		t.Errorf("report.go declares %v, %s %v", names(got), exitReportDoc, names(want))
	}
	for name, w := range want {
		if g, ok := got[name]; ok && g != w {
			t.Errorf("type %s differs from %s:\n--- report.go ---\n%s\n--- the docs ---\n%s", name, exitReportDoc, g, w)
		}
	}
}

// TestTypesDecodeTheDocsExample decodes the example report of the docs
// with these types, refusing any field they lack: the table and the types
// say the same.
func TestTypesDecodeTheDocsExample(t *testing.T) {
	var example string
	for _, b := range fenced(t, exitReportDoc, "json") {
		if strings.Contains(b, `"schema": 1`) {
			example = b
		}
	}
	if example == "" {
		t.Fatalf("%s has no example report", exitReportDoc)
	}
	d := json.NewDecoder(strings.NewReader(example))
	d.DisallowUnknownFields()
	var r Report
	if err := d.Decode(&r); err != nil {
		t.Fatalf("the example of %s: %v", exitReportDoc, err)
	}
	if r.Schema != 1 || r.MainChild == nil || len(r.Leftovers) != r.LeftoversCount || r.LeftoversCount == 0 ||
		r.Leftovers[0].End.Signal == nil || r.Leftovers[0].End.AfterSeconds == nil {
		t.Errorf("the example decoded to %+v: fields lost", r)
	}
}

// TestTheDocsShowTheseFiles: docs/testing.md shows the Dockerfile and
// e2e_test.go whole; they must be these files, byte for byte.
func TestTheDocsShowTheseFiles(t *testing.T) {
	const doc = "../../docs/testing.md"
	for _, tc := range []struct{ lang, file string }{{"dockerfile", "Dockerfile"}, {"go", "e2e_test.go"}} {
		want, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		blocks := fenced(t, doc, tc.lang)
		if !slices.Contains(blocks, string(want)) {
			t.Errorf("%s shows no %s block that is examples/e2e/%s as it is (%d %s blocks): copy the file into it", doc, tc.lang, tc.file, len(blocks), tc.lang)
		}
	}
}
