package e2e

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var (
	statusWarning  = regexp.MustCompile(`msg="cannot write the status file; pidone ctl status shows no workers" error=".*no space left on device"`)
	statusHeldBack = regexp.MustCompile(`msg="cannot write the status file; pidone ctl status shows no workers" .* suppressed=(\d+)`)
	workerStarted  = regexp.MustCompile(`msg="worker started"`)
)

// TestStatusFileWarningIsLimitedOnAFullDisk is issue 18 item 9: with the
// disk full, every write of the status file fails with a message naming a
// new temporary file. The warning is limited by kind, not by that text:
// at most one line a second, saying how many were held back. Before the
// fix: 899 lines in 5 s.
func TestStatusFileWarningIsLimitedOnAFullDisk(t *testing.T) {
	t.Parallel()
	needRoot(t, "mounts a tmpfs")
	_, workload := bins(t)
	dir := t.TempDir()
	// Room for the pidfile and its lock, then filled up.
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=16k,mode=0755"); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	pidfile := filepath.Join(dir, "app.pid")
	// A worker that crashes at once and is respawned after 1ms: a change
	// of state, and so a write of the status file, many times a second.
	p := startMaster(t, "-v", "--workers", "1", "--pidfile", pidfile, "--give-up", "off",
		"--backoff-min", "1ms", "--backoff-max", "1ms", "--", workload, "worker", "-exit", "-code", "1")
	eventually(t, workersTimeout, func() (bool, string) {
		_, err := os.Stat(pidfile)
		return err == nil, "no pidfile: " + p.stderr.Tail(5)
	})
	start := time.Now()
	fill(t, filepath.Join(dir, "filler"))

	// Enough status writes to show the limit: 20 workers started on the
	// full disk, each a change of state at least (a loaded machine takes
	// longer; the bound follows the time it took).
	first := p.stderr.WaitFor(t, statusWarning, workersTimeout)
	const starts = 20
	p.stderr.WaitForNth(t, workerStarted, p.stderr.Count(workerStarted)+starts, 3*workersTimeout)
	lines := p.stderr.Count(statusWarning)
	seconds := int(time.Since(start) / time.Second)
	// One a second, plus the first.
	if lines > seconds+2 {
		t.Errorf("%d status-file warnings in %ds of a full disk (%d worker starts); want at most %d", lines, seconds, starts, seconds+2)
	}
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(workersTimeout); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
	// What was held back is counted on a later line: the next one
	// written, the last one held once its second is over, or at the
	// master's exit (logging.FlushHeld).
	p.stderr.WaitEOF(t, exitTimeout)
	held := 0
	for _, l := range p.stderr.Snapshot() {
		if m := statusHeldBack.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			held += n
		}
	}
	if held == 0 {
		t.Errorf("no warning says how many were held back")
	}
	t.Logf("%d worker starts in %ds, %d warnings, %d held back; first: %s", starts, seconds, lines, held, first[0])
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1024)
	for {
		if _, err := f.Write(buf); errors.Is(err, syscall.ENOSPC) {
			return
		} else if err != nil {
			t.Fatal(err)
		}
	}
}
