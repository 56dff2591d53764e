package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/pidone/pidone/internal/exitreport"
)

// A usage error leaves a report only once the report's path is known:
// --exit-report before the mistake, or a usable PIDONE_EXIT_REPORT.
func TestUsageErrorReport(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	for _, tc := range []struct {
		doc     string
		args    []string
		env     []string
		path    string // "" for no report
		mode    string
		message string
	}{
		{"a bad value after --exit-report", []string{"--exit-report", path, "--grace", "soon", "app"}, nil, path, "single", `--grace: "soon" is not a duration`},
		{"a bad value before it: not known yet", []string{"--grace", "soon", "--exit-report", path, "app"}, nil, "", "", ""},
		{"an unknown option after it", []string{"--exit-report=" + path, "--gracee", "1s", "app"}, nil, path, "single", "unknown option --gracee"},
		{"no command", []string{"--exit-report", path}, nil, path, "single", "no command given"},
		{"workers options without workers", []string{"--exit-report", path, "--reload", "replace", "app"}, nil, path, "single", "workers options need"},
		{"workers mode", []string{"--exit-report", path, "--workers", "2", "--give-up", "x", "app"}, nil, path, "workers", "--give-up"},
		{"a bad variable, the path from the environment", []string{"app"}, []string{"PIDONE_EXIT_REPORT=" + path, "PIDONE_GRACE=soon"}, path, "single", `PIDONE_GRACE: "soon"`},
		{"an unknown variable", []string{"app"}, []string{"PIDONE_EXIT_REPORT=" + path, "PIDONE_GRAC=1s"}, path, "single", "PIDONE_GRAC"},
		{"a bad report path is the error itself", []string{"--exit-report", dir, "app"}, nil, "", "", ""},
		{"a bad report variable too", []string{"app"}, []string{"PIDONE_EXIT_REPORT=" + dir}, "", "", ""},
		{"no --exit-report at all", []string{"--grace", "soon", "app"}, nil, "", "", ""},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			c := Parse("pidone", tc.args, tc.env)
			if c.Mode != Print || c.Code != ExitUsage {
				t.Fatalf("mode %v code %d, want a usage error", c.Mode, c.Code)
			}
			if c.ExitReport != tc.path || (c.Report != nil) != (tc.path != "") {
				t.Fatalf("report path %q (report %v), want %q", c.ExitReport, c.Report != nil, tc.path)
			}
			if tc.path == "" {
				return
			}
			r := c.Report
			if r.Schema != exitreport.Schema || r.Mode != tc.mode || r.Personality != "pidone" || r.ExitCode != ExitUsage ||
				r.ExitReason != exitreport.ReasonUsage || !strings.Contains(r.Error, tc.message) || r.MainChild != nil ||
				!r.LeftoversKnown || r.Leftovers == nil || r.StartTime == "" {
				t.Errorf("report %+v, want a %s usage error with %q", r, tc.mode, tc.message)
			}
			if !strings.Contains(c.Stderr, tc.message) {
				t.Errorf("stderr %q, want the same message %q", c.Stderr, tc.message)
			}
		})
	}
}

// Under a peer's name, a bad PIDONE_* variable beside a usable
// PIDONE_EXIT_REPORT leaves a report with the peer's usage code; the
// peer's own command-line mistakes leave none.
func TestUsageErrorReportPeer(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	c := Parse("docker-init", []string{"--", "app"}, []string{"PIDONE_EXIT_REPORT=" + path, "PIDONE_GRACE=soon"})
	if c.Mode != Print || c.Code != usageExit || c.ExitReport != path || c.Report == nil {
		t.Fatalf("mode %v code %d report %q %v, want a usage error with a report", c.Mode, c.Code, c.ExitReport, c.Report != nil)
	}
	r := c.Report
	if r.Personality != "docker-init" || r.Mode != "single" || r.ExitCode != usageExit || r.ExitReason != exitreport.ReasonUsage ||
		!strings.Contains(r.Error, "PIDONE_GRACE") {
		t.Errorf("report %+v, want docker-init's usage error naming PIDONE_GRACE", r)
	}
	if c := Parse("docker-init", []string{"-z", "app"}, []string{"PIDONE_EXIT_REPORT=" + path}); c.Mode != Print || c.Report != nil {
		t.Errorf("tini's own mistake: mode %v report %v, want a usage error with no report", c.Mode, c.Report != nil)
	}
}
