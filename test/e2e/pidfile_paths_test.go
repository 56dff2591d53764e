package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestUnusablePidfilePathsAreUsageErrors (issue 18, item 10): a pidfile
// whose lock file cannot be made there, or whose name is too long, is a
// wrong --pidfile, exit 2 like every other refused location; it used to
// be pidone's own failure, 125.
func TestUnusablePidfilePathsAreUsageErrors(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	for _, tc := range []struct{ doc, path, want string }{
		{"a directory of /proc", "/proc/self/app.pid", "cannot open /proc/self/app.pid.lock: no such file or directory"},
		{"a read-only directory", "/sys/app.pid", "cannot open /sys/app.pid.lock"},
		{"a name too long", filepath.Join(t.TempDir(), strings.Repeat("a", 300)+".pid"), "file name too long"},
	} {
		code, _, stderr := run(t, workersTimeout, "--workers", "1", "--pidfile", tc.path, "--", workload, "worker")
		text := strings.Join(stderr, "\n")
		if code != 2 || !regexp.MustCompile(`refusing pidfile .*`+regexp.QuoteMeta(tc.want)).MatchString(text) {
			t.Errorf("--pidfile in %s: exit %d, stderr %q; want 2, refusing pidfile: %s", tc.doc, code, text, tc.want)
		}
	}
}
