package exitreport

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBoundArgv(t *testing.T) {
	long := strings.Repeat("x", 100)
	many := make([]string, MaxArgs+5)
	for i := range many {
		many[i] = "a"
	}
	for _, tc := range []struct {
		doc     string
		argv    []string
		wantLen int
		cut     bool
	}{
		{"short", []string{"sh", "-c", "true"}, 3, false},
		{"empty", nil, 0, false},
		{"a long word", []string{"sh", long}, 2, true},
		{"too many words", many, MaxArgs, true},
	} {
		got, cut := BoundArgv(tc.argv)
		if len(got) != tc.wantLen || cut != tc.cut {
			t.Errorf("%s: %d words, cut %v; want %d, %v", tc.doc, len(got), cut, tc.wantLen, tc.cut)
		}
		for _, w := range got {
			if len(w) > 100 {
				t.Errorf("%s: word of %d bytes kept", tc.doc, len(w))
			}
		}
	}
}

func TestSplitCmdline(t *testing.T) {
	for _, tc := range []struct {
		in   string
		full bool
		want []string
		cut  bool
	}{
		{"sleep\x001h\x00", false, []string{"sleep", "1h"}, false},
		{"", false, nil, false},
		{"a\x00\x00b\x00", false, []string{"a", "", "b"}, false},
		{"no-nul", false, []string{"no-nul"}, false},
		{"sleep\x00", true, []string{"sleep"}, true},
	} {
		got, cut := SplitCmdline([]byte(tc.in), tc.full)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) || cut != tc.cut {
			t.Errorf("SplitCmdline(%q, %v) = %q, %v; want %q, %v", tc.in, tc.full, got, cut, tc.want, tc.cut)
		}
	}
}

func TestBound(t *testing.T) {
	r := &Report{Leftovers: make([]Leftover, MaxLeftovers+7)}
	r.LeftoversCount = len(r.Leftovers)
	r.Bound()
	if len(r.Leftovers) != MaxLeftovers || r.LeftoversOmitted != 7 || r.LeftoversCount != MaxLeftovers+7 {
		t.Errorf("%d listed, %d omitted, count %d", len(r.Leftovers), r.LeftoversOmitted, r.LeftoversCount)
	}
}

func TestEnds(t *testing.T) {
	b, _ := json.Marshal(ExitedWith(0).After(1500 * time.Millisecond))
	if string(b) != `{"how":"exited","code":0,"after_seconds":1.5}` {
		t.Errorf("exited 0: %s", b)
	}
	b, _ = json.Marshal(KilledBy(Signal{"SIGKILL", 9}, ByKill))
	if string(b) != `{"how":"killed","signal":{"name":"SIGKILL","number":9},"by":"pidone_kill"}` {
		t.Errorf("killed: %s", b)
	}
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Report{Schema: Schema, Mode: "single"}
	r.Times(time.Unix(0, 0), time.Unix(2, 0))
	if err := Write(path, r); err != nil {
		t.Fatal(err)
	}
	var back Report
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &back); err != nil || back.Schema != 1 || back.Duration != 2 || back.StartTime != "1970-01-01T00:00:00Z" {
		t.Errorf("read back %+v, %v", back, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files in the directory: %v, want the report only", entries)
	}
	// A failing write leaves nothing behind.
	if err := Write(filepath.Join(dir, "missing", "r.json"), r); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	if err := Write(sub, r); err == nil {
		t.Error("write over a directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("files in the directory: %v, want the report and sub", entries)
	}
}

func TestCheckPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct {
		path, want string
	}{
		{filepath.Join(dir, "r.json"), ""},
		{dir, "is a directory"},
		{filepath.Join(dir, "no", "r.json"), "no such file or directory"},
		{filepath.Join(file, "r.json"), "not a directory"},
		{"", "empty"},
	} {
		err := CheckPath(tc.path)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("CheckPath(%q) = %v, want %q", tc.path, err, tc.want)
		}
	}
}
