package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A PID 1 whose main child left nothing behind knows it without /proc: it
// has no child, and kill(-1, 0) reaches no other process of its namespace
// (init/killreport.go, aloneInNamespace). So even a namespace whose /proc is
// the host's (unshare --pid without --mount-proc, where the leftovers cannot
// be listed) gets the verdict "clean", and the common exit reads no /proc.
// With a process left, the same namespace still says it cannot tell.
func TestAlonePID1KnowsItWithoutProc(t *testing.T) {
	t.Parallel()
	pidone, workload := bins(t)
	for _, tc := range []struct {
		doc     string
		command []string
		known   bool
		verdict string
	}{
		{"nothing left", []string{workload, "exit", "0"}, true, "clean: "},
		{"a background process left", []string{"/bin/sh", "-c", "sleep 600 & exit 0"}, false, "leftovers unknown: "},
	} {
		dir := t.TempDir()
		reportPath, termPath := filepath.Join(dir, "report.json"), filepath.Join(dir, "termination-log")
		// startInit: a new PID namespace, and the test's /proc, which is
		// not that namespace's.
		p := startInit(t, append([]string{pidone, "--exit-report", reportPath, "--termination-log", termPath, "--grace", "1s", "--"}, tc.command...)...)
		p.closeStdin()
		if code := p.exitCode(exitTimeout); code != 0 {
			t.Errorf("%s: exit code %d, want 0", tc.doc, code)
		}
		r := readReport(t, reportPath)
		if r.LeftoversKnown != tc.known || r.LeftoversCount != 0 {
			t.Errorf("%s: leftovers_known %v, count %d, want %v and 0", tc.doc, r.LeftoversKnown, r.LeftoversCount, tc.known)
		}
		b, err := os.ReadFile(termPath)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), tc.verdict) {
			t.Errorf("%s: termination log %q, want it to begin with %q", tc.doc, b, tc.verdict)
		}
	}
}
