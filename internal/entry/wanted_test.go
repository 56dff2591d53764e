package entry

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// markWanted writes the runtime's private sig.wanted[0] at offset 20 of
// runtime.sig (wanted_on_GOARCH.s). This test reads the toolchain's own
// source and fails when a Go release moves that word: sig must start with
// note, mask and wanted, note must be one uintptr and the arrays three
// uint32 each (_NSIG 65).
func TestRuntimeSigLayout(t *testing.T) {
	src := filepath.Join(runtime.GOROOT(), "src", "runtime")
	fields := structFields(t, filepath.Join(src, "sigqueue.go"), "sig", true)
	want := []string{"note note", "mask [(_NSIG + 31) / 32]uint32", "wanted [(_NSIG + 31) / 32]uint32"}
	if len(fields) < len(want) {
		t.Fatalf("runtime.sig has fields %q, want them to start with %q", fields, want)
	}
	for i, w := range want {
		if fields[i] != w {
			t.Errorf("runtime.sig field %d is %q, want %q: wanted_on_*.s writes the wrong word", i, fields[i], w)
		}
	}
	if note := structFields(t, filepath.Join(src, "note_other.go"), "note", false); len(note) != 1 || note[0] != "key uintptr" {
		t.Errorf("runtime.note is %q, want one uintptr", note)
	}
	nsig, err := os.ReadFile(filepath.Join(src, "os_linux_generic.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !containsLine(string(nsig), "_NSIG = 65") {
		t.Errorf("runtime/os_linux_generic.go no longer says _NSIG = 65")
	}
}

// structFields lists the fields ("name type") of the struct declared as
// var name (isVar) or type name in file.
func structFields(t *testing.T, file, name string, isVar bool) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var st *ast.StructType
	ast.Inspect(f, func(n ast.Node) bool {
		switch d := n.(type) {
		case *ast.ValueSpec:
			if isVar && len(d.Names) == 1 && d.Names[0].Name == name {
				st, _ = d.Type.(*ast.StructType)
			}
		case *ast.TypeSpec:
			if !isVar && d.Name.Name == name {
				st, _ = d.Type.(*ast.StructType)
			}
		}
		return st == nil
	})
	if st == nil {
		t.Fatalf("%s: no struct %s", file, name)
	}
	var fields []string
	for _, fl := range st.Fields.List {
		typ := string(src[fset.Position(fl.Type.Pos()).Offset:fset.Position(fl.Type.End()).Offset])
		for _, n := range fl.Names {
			fields = append(fields, n.Name+" "+typ)
		}
	}
	return fields
}

func containsLine(s, want string) bool {
	for _, line := range strings.Split(s, "\n") {
		if strings.Join(strings.Fields(line), " ") == want {
			return true
		}
	}
	return false
}
