package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The image under test is $E2E_IMAGE; its ENTRYPOINT is pidone
// (["/pidone", "--"]), or it runs under `docker run --init` with pidone as
// dockerd's init. Each test runs one command in a fresh container. pidone
// writes its exit report to /out, a bind mount of a directory of the
// test's ($E2E_REPORTS/TEST if set, for CI to keep, else a temporary one),
// and exits 122 if the command left any process behind.

// run runs argv in a new container of $E2E_IMAGE and returns pidone's exit
// status and its report.
func run(t *testing.T, argv ...string) (int, Report) {
	t.Helper()
	image := os.Getenv("E2E_IMAGE")
	if image == "" {
		t.Fatal("E2E_IMAGE is not set: name the image to test")
	}
	needDocker(t)
	dir := reportDir(t)
	args := []string{"run", "--rm", "-v", dir + ":/out",
		"-e", "PIDONE_EXIT_REPORT=/out/report.json",
		"-e", "PIDONE_FAIL_ON_LEFTOVERS=true",
		image}
	out, err := exec.Command("docker", append(args, argv...)...).CombinedOutput()
	status := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		status = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("docker run: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatalf("%q exited %d and left no exit report (%v); its output:\n%s", argv, status, err, out)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil || r.Schema != 1 {
		t.Fatalf("not a schema 1 exit report (%v):\n%s", err, b)
	}
	t.Logf("%q: exit status %d (%s); output:\n%s", argv, status, r.ExitReason, out)
	return status, r
}

// leftBehind describes what the report says was left behind, or returns
// nil when nothing was.
func leftBehind(r Report) error {
	if !r.LeftoversKnown {
		return errors.New("pidone could not list the processes left behind (no /proc of its namespace)")
	}
	if r.LeftoversCount == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d processes left behind:", r.LeftoversCount)
	for _, l := range r.Leftovers {
		fmt.Fprintf(&b, "\n\t%d (%s) %q: %s", l.Pid, l.Comm, l.Argv, l.End.How)
		if l.End.Signal != nil {
			fmt.Fprintf(&b, " by %s", l.End.Signal.Name)
		}
	}
	return errors.New(b.String())
}

// TestNothingLeftBehind is the pattern for a real test: the command must
// succeed and leave nothing behind.
func TestNothingLeftBehind(t *testing.T) {
	status, r := run(t, "/workload", "exit", "0")
	if err := leftBehind(r); err != nil {
		t.Error(err)
	}
	if status != 0 {
		t.Errorf("exit status %d (%s), want 0", status, r.ExitReason)
	}
}

// TestLeftoverIsCaught shows the check failing: this command exits 0 but
// leaves a sleeping process behind, so pidone exits 122 and the report
// names the sleeper.
func TestLeftoverIsCaught(t *testing.T) {
	status, r := run(t, "/workload", "leave", "-plain", "1")
	err := leftBehind(r)
	if err == nil || !strings.Contains(err.Error(), `["/workload" "sleep" "1h"]`) {
		t.Errorf("leftBehind: %v, want the sleeper named", err)
	}
	if status != 122 || r.ExitReason != "leftovers" || r.MainChild == nil || r.MainChild.End.Code == nil || *r.MainChild.End.Code != 0 {
		t.Errorf("exit status %d (%s), want 122 (leftovers) with the command's own 0 in the report", status, r.ExitReason)
	}
}

// reportDir returns the directory the test's container writes its report
// to: $E2E_REPORTS/TEST, or a temporary directory.
func reportDir(t *testing.T) string {
	t.Helper()
	keep := os.Getenv("E2E_REPORTS")
	if keep == "" {
		return t.TempDir()
	}
	dir, err := filepath.Abs(filepath.Join(keep, t.Name()))
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var docker struct {
	once sync.Once
	err  error
}

// needDocker skips the test when no Docker engine answers, and fails it
// instead under CI=true: a CI run must not pass without running.
func needDocker(t *testing.T) {
	t.Helper()
	docker.once.Do(func() { docker.err = exec.Command("docker", "info").Run() })
	if docker.err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no Docker engine answers (docker info: %v), and CI=true requires one", docker.err)
	}
	t.Skipf("no Docker engine answers (docker info: %v): not run", docker.err)
}
