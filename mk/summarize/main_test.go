package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ev writes one `go test -json` line.
func ev(action, pkg, test, output string) string {
	b, err := json.Marshal(event{Action: action, Package: pkg, Test: test, Output: output})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// goTestRun is what `go test -json` printed for a package with a parent
// test whose first subtest skipped and second failed, and a passing test
// (taken from a real run, times left out).
var goTestRun = []string{
	ev("start", "x", "", ""),
	ev("run", "x", "TestA", ""),
	ev("output", "x", "TestA", "=== RUN   TestA\n"),
	ev("run", "x", "TestA/sub", ""),
	ev("output", "x", "TestA/sub", "=== RUN   TestA/sub\n"),
	ev("output", "x", "TestA/sub", "    a_test.go:3: no peer installed\n"),
	ev("output", "x", "TestA/sub", "--- SKIP: TestA/sub (0.00s)\n"),
	ev("skip", "x", "TestA/sub", ""),
	ev("run", "x", "TestA/f", ""),
	ev("output", "x", "TestA/f", "=== RUN   TestA/f\n"),
	ev("output", "x", "TestA/f", "    a_test.go:3: line1\n"),
	ev("output", "x", "TestA/f", "    a_test.go:3: bad\n"),
	ev("output", "x", "TestA/f", "--- FAIL: TestA/f (0.00s)\n"),
	ev("fail", "x", "TestA/f", ""),
	ev("output", "x", "TestA", "--- FAIL: TestA (0.00s)\n"),
	ev("fail", "x", "TestA", ""),
	ev("run", "x", "TestB", ""),
	ev("output", "x", "TestB", "=== RUN   TestB\n"),
	ev("output", "x", "TestB", "--- PASS: TestB (0.00s)\n"),
	ev("pass", "x", "TestB", ""),
	ev("output", "x", "", "FAIL\n"),
	ev("output", "x", "", "FAIL\tx\t0.006s\n"),
	ev("fail", "x", "", ""),
}

// buildFailure is `go test -json` on a package that does not compile.
var buildFailure = []string{
	`{"ImportPath":"x [x.test]","Action":"build-output","Output":"# x [x.test]\n"}`,
	`{"ImportPath":"x [x.test]","Action":"build-output","Output":"./b.go:2:9: syntax error: unexpected {, expected )\n"}`,
	`{"ImportPath":"x [x.test]","Action":"build-fail"}`,
	ev("start", "x", "", ""),
	ev("output", "x", "", "FAIL\tx [build failed]\n"),
	`{"Action":"fail","Package":"x","Elapsed":0,"FailedBuild":"x [x.test]"}`,
}

func collect(t *testing.T, exitCode int, lines ...string) (*tierResult, string) {
	t.Helper()
	var log strings.Builder
	c := newCollector(&log)
	for _, l := range lines {
		c.line(l)
	}
	r := &tierResult{tier: "t", logPath: "bin/t.log", exitCode: exitCode}
	c.finish(r)
	return r, log.String()
}

func TestCounts(t *testing.T) {
	parentAlone := []string{
		ev("run", "x", "TestP", ""),
		ev("run", "x", "TestP/ok", ""),
		ev("pass", "x", "TestP/ok", ""),
		ev("output", "x", "TestP", "    p_test.go:9: the parent's own check failed\n"),
		ev("fail", "x", "TestP", ""),
		ev("fail", "x", "", ""),
	}
	for _, tc := range []struct {
		doc      string
		exitCode int
		lines    []string
		want     counts
		failed   bool
	}{
		{"subtests count, their parent does not", 1, goTestRun, counts{1, 1, 1}, true},
		{"a parent failing on its own counts", 1, parentAlone, counts{1, 1, 0}, true},
		{"a package that did not build is one failure", 1, buildFailure, counts{0, 1, 0}, true},
		{"a tier without tests that passed is one check", 0, []string{"go vet ./..."}, counts{1, 0, 0}, false},
		{"a tier without tests that failed is one failure", 2, []string{"gofmt needed"}, counts{0, 1, 0}, true},
		{"a tier that failed after its tests passed", 2, []string{ev("pass", "x", "TestB", ""), "make: *** [x] Error 1"}, counts{1, 1, 0}, true},
		{"a tier that skipped itself", 0, []string{"##### docker-test SKIPPED: no Docker engine answers #####"}, counts{0, 0, 1}, false},
		{"a line that looks like JSON but is not an event", 0, []string{`{"foo": 1}`, ev("pass", "x", "TestB", "")}, counts{1, 0, 0}, false},
	} {
		r, _ := collect(t, tc.exitCode, tc.lines...)
		if r.counts != tc.want || r.failed() != tc.failed {
			t.Errorf("%s: got %+v failed=%v, want %+v failed=%v", tc.doc, r.counts, r.failed(), tc.want, tc.failed)
		}
	}
}

func TestLogIsPlainText(t *testing.T) {
	_, log := collect(t, 1, append([]string{"go test -json ./x"}, goTestRun...)...)
	for _, want := range []string{"go test -json ./x\n", "=== RUN   TestA/f\n    a_test.go:3: line1\n    a_test.go:3: bad\n--- FAIL: TestA/f (0.00s)\n", "FAIL\tx\t0.006s\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, `"Action"`) {
		t.Errorf("log holds JSON events:\n%s", log)
	}
}

func TestReport(t *testing.T) {
	r, _ := collect(t, 1, goTestRun...)
	got := r.report()
	for _, want := range []string{
		"t              FAIL  1 passed, 1 failed, 1 skipped",
		"    SKIP TestA/sub: a_test.go:3: no peer installed\n",
		"    --- FAIL x TestA/f (0.00s)\n        === RUN   TestA/f\n            a_test.go:3: line1\n",
		"make t exited with status 1; the last lines of bin/t.log:\n",
		"    | FAIL\tx\t0.006s\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}

	// Success: the line and the skips, no details.
	r, _ = collect(t, 0, ev("output", "x", "TestS", "    s_test.go:1: peer missing\n"), ev("skip", "x", "TestS", ""), ev("pass", "x", "TestB", ""))
	got = r.report()
	if want := "t              ok    1 passed, 0 failed, 1 skipped"; !strings.HasPrefix(got, want) {
		t.Errorf("report %q does not start with %q", got, want)
	}
	if lines := strings.Count(got, "\n"); lines != 2 || !strings.Contains(got, "    SKIP TestS: s_test.go:1: peer missing\n") {
		t.Errorf("a passing tier's report should be its line and its skip:\n%s", got)
	}

	r, _ = collect(t, 1, buildFailure...)
	if got := r.report(); !strings.Contains(got, "syntax error: unexpected {") {
		t.Errorf("a build failure's report lacks the compiler's message:\n%s", got)
	}
}

func TestSkipReasonsGrouped(t *testing.T) {
	var lines []string
	for _, name := range []string{"TestA/real", "TestB/real", "TestC/real", "TestD/real", "TestE/real"} {
		lines = append(lines,
			ev("output", "x", name, "=== RUN   "+name+"\n"),
			ev("output", "x", name, "    p_test.go:58: tini is not installed\n"),
			ev("output", "x", name, "--- SKIP: "+name+" (0.00s)\n"),
			ev("skip", "x", name, ""))
	}
	lines = append(lines, ev("skip", "x", "TestQuiet", ""))
	r, _ := collect(t, 0, lines...)
	got := skipReasons(r.outcomes)
	want := []skip{
		{reason: "p_test.go:58: tini is not installed", tests: "TestA/real, TestB/real, TestC/real and 2 more"},
		{reason: "(the test gave no reason)", tests: "TestQuiet"},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("skipReasons: got %+v, want %+v", got, want)
	}
}

// TestRun drives real child processes as tiers: every tier runs even after
// one fails, each writes its log, and the last line is the total.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	scripts := map[string]string{
		"good": "echo '" + ev("pass", "x", "TestB", "") + "'; echo '" + ev("pass", "x", "TestC", "") + "'",
		"bad":  "echo 'gofmt needed' >&2; exit 1",
		"skip": "echo '##### skip SKIPPED: no engine #####' >&2",
	}
	var out strings.Builder
	failed, err := run(&out, dir, []string{"bad", "good", "skip"}, func(tier string) *exec.Cmd {
		return exec.Command("sh", "-c", scripts[tier])
	})
	if err != nil {
		t.Fatal(err)
	}
	if !failed {
		t.Errorf("run reported success with a failing tier:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; last != "2 passed, 1 failed, 1 skipped" {
		t.Errorf("last line %q, want the total alone\n%s", last, out.String())
	}
	for _, tier := range []string{"bad", "good", "skip"} {
		if !strings.Contains(out.String(), tier+" ") {
			t.Errorf("no line for tier %s:\n%s", tier, out.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "bad.log"))
	if err != nil || string(b) != "gofmt needed\n" {
		t.Errorf("bad.log: %q, %v; want the tier's stderr", b, err)
	}
	if !strings.Contains(out.String(), "    | gofmt needed\n") {
		t.Errorf("the failing tier's log tail is not shown:\n%s", out.String())
	}
}

// A tier that installs a package says so before its result line, and the
// slowest tests of every tier are listed before the total.
func TestRunShowsInstallsAndTheSlowest(t *testing.T) {
	scripts := map[string]string{
		"a": `echo 'installing Debian package file: to check that bin/pidone is statically linked'; ` +
			`echo '{"Action":"pass","Package":"x","Test":"TestQuick","Elapsed":0.5}'; ` +
			`echo '{"Action":"pass","Package":"x","Test":"TestSlow/sub","Elapsed":90}'; ` +
			`echo '{"Action":"pass","Package":"x","Test":"TestSlow","Elapsed":100}'`,
		"b": `echo '{"Action":"pass","Package":"y","Test":"TestMiddle","Elapsed":7.25}'; ` +
			// Parallel subtests: the parent returns first and is given
			// only its own time; it took as long as its slowest subtest.
			`echo '{"Action":"pass","Package":"y","Test":"TestParallel","Elapsed":0}'; ` +
			`echo '{"Action":"pass","Package":"y","Test":"TestParallel/a","Elapsed":3}'; ` +
			`echo '{"Action":"pass","Package":"y","Test":"TestParallel/b","Elapsed":4}'`,
	}
	var out strings.Builder
	if _, err := run(&out, t.TempDir(), []string{"a", "b"}, func(tier string) *exec.Cmd {
		return exec.Command("sh", "-c", scripts[tier])
	}); err != nil {
		t.Fatal(err)
	}
	want := "a              installing Debian package file: to check that bin/pidone is statically linked\n" +
		"a              ok    2 passed, 0 failed, 0 skipped"
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("output does not start with the install line, then the tier's line:\n%s", out.String())
	}
	want = "slowest tests:\n      100.0s  x TestSlow\n        7.2s  y TestMiddle\n        4.0s  y TestParallel\n        0.5s  x TestQuick\n5 passed, 0 failed, 0 skipped\n"
	if !strings.HasSuffix(out.String(), want) {
		t.Errorf("output does not end with the slowest tests (subtests left out) and the total:\n%s\nwant the end:\n%s", out.String(), want)
	}
}

func TestSlowestReport(t *testing.T) {
	var tests []outcome
	for i := range 12 {
		tests = append(tests, outcome{name: fmt.Sprintf("x Test%d", i), elapsed: float64(i)})
	}
	got := slowestReport(tests, 10)
	if lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n"); len(lines) != 11 || lines[0] != "slowest tests:" ||
		!strings.HasSuffix(lines[1], "x Test11") || !strings.HasSuffix(lines[10], "x Test2") {
		t.Errorf("slowestReport of 12 tests:\n%s", got)
	}
	if got := slowestReport([]outcome{{name: "x TestOne", elapsed: 1}, {name: "x TestZero"}}, 10); got != "slowest tests:\n        1.0s  x TestOne\n" {
		t.Errorf("slowestReport of a test that took a second and one that took none: %q, want the first alone", got)
	}
	if got := slowestReport([]outcome{{name: "x TestZero"}}, 10); got != "" {
		t.Errorf("slowestReport of a test that took no time: %q, want nothing", got)
	}
}
