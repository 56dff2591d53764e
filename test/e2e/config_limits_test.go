package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Bounded configuration input (issue 10, defect 3): what --config and
// --spec name is read only if it is a regular file (or, for --spec, a
// bundle directory), opened without blocking, at most 1 MiB and 64 levels
// deep; a reload with a file that fails any of that changes nothing; and a
// stop request is acted upon whatever the file is.

// refuseWithin bounds how long a refusal may take: the load is a few
// system calls, this is for a loaded machine.
const refuseWithin = 10 * time.Second

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := unix.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
	// A pidone blocked in open(2) for a writer (the defect) is released by
	// one, so the clean-up does not depend on killing it.
	t.Cleanup(func() {
		if fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err == nil {
			unix.Close(fd)
		}
	})
}

// badConfigs writes the files no configuration may be, in dir, and returns
// each with what the refusal says about it.
func badConfigs(t *testing.T, dir, workload string) []struct{ doc, path, want string } {
	t.Helper()
	big := filepath.Join(dir, "big.json")
	writeFile(t, big, webConfig(workload, 1)+strings.Repeat(" ", 1<<20))
	deep := filepath.Join(dir, "deep.json")
	writeFile(t, deep, `{"groups": `+strings.Repeat("[", 30000)+strings.Repeat("]", 30000)+"}")
	fifo := filepath.Join(dir, "fifo.json")
	mkfifo(t, fifo)
	zero := filepath.Join(dir, "zero.json")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	return []struct{ doc, path, want string }{
		{"larger than 1 MiB", big, "larger than 1048576 bytes (1 MiB), the limit for a configuration"},
		{"nested 30,000 deep", deep, "nested deeper than 64 levels, the limit for a configuration"},
		{"a FIFO nobody writes", fifo, "is a named pipe (FIFO), not a regular file"},
		{"/dev/zero", zero, "is a character device, not a regular file"},
	}
}

func TestConfigThatCannotLoadIsRefusedAtOnce(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	dir := t.TempDir()
	cases := badConfigs(t, dir, workload)
	for i := range cases {
		cases[i].want = regexp.QuoteMeta(cases[i].want)
	}
	// The same through --spec, and --workers above its bound.
	bundle := filepath.Join(dir, "bundle")
	os.Mkdir(bundle, 0o755)
	mkfifo(t, filepath.Join(bundle, "config.json"))
	specs := []struct {
		doc  string
		args []string
		want string
	}{
		{"--spec /dev/zero", []string{"--spec", "/dev/zero"}, `refusing --spec /dev/zero: /dev/zero is a character device, not a regular file or a bundle directory`},
		{"--spec /dev/urandom", []string{"--spec", "/dev/urandom"}, `is a character device, not a regular file or a bundle directory`},
		{"a bundle whose config.json is a FIFO", []string{"--spec", bundle}, regexp.QuoteMeta(bundle + "/config.json is a named pipe (FIFO), not a regular file")},
		{"--workers 1025", []string{"--workers", "1025", "--", workload, "worker"}, `worker count 1025 is above the limit of 1024 workers`},
		{"--pidfile ''", []string{"--workers", "1", "--pidfile", "", "--", workload, "worker"}, `--pidfile: the path is empty`},
	}
	for _, c := range cases {
		specs = append(specs, struct {
			doc  string
			args []string
			want string
		}{c.doc, []string{"--config", c.path}, c.want})
	}
	for _, tc := range specs {
		start := time.Now()
		code, _, stderr := run(t, refuseWithin, tc.args...)
		took := time.Since(start)
		text := strings.Join(stderr, "\n")
		if code != 2 || !regexp.MustCompile(tc.want).MatchString(text) {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant 2 and %q", tc.doc, code, text, tc.want)
		}
		if len(text) > 2000 {
			t.Errorf("%s: %d bytes of stderr", tc.doc, len(text))
		}
		t.Logf("%s: refused in %v", tc.doc, took.Round(time.Millisecond))
	}
}

func TestReloadWithAFileThatCannotLoadChangesNothing(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "workers.json")
	writeFile(t, config, webConfig(workload, 2))
	p := startMaster(t, "-v", "--config", config)
	first := waitStarts(t, p, 2, nil)

	for i, bad := range badConfigs(t, dir, workload) {
		// The bad file takes the configuration's place, as an edit would.
		if err := os.Rename(bad.path, config); err != nil {
			t.Fatal(err)
		}
		p.signal(syscall.SIGHUP)
		rejected := regexp.MustCompile(`configuration rejected.*` + regexp.QuoteMeta(bad.want))
		p.stderr.WaitFor(t, rejected, workersTimeout)
		if n := p.stderr.Count(regexp.MustCompile(`configuration rejected`)); n != i+1 {
			t.Errorf("%s: %d rejections so far, want %d", bad.doc, n, i+1)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if n := stdoutCount(p, `^worker (sig|exit|start) `); n != 2 {
		t.Errorf("after rejected reloads the workers saw something (%d lines):\n%s", n, p.stdout.Tail(10))
	}
	for _, w := range first {
		if err := unix.Kill(hostPid(t, p, w.pid), 0); err != nil {
			t.Errorf("worker %+v: %v", w, err)
		}
	}

	// Fixed, the next reload applies.
	os.Remove(config)
	writeFile(t, config, webConfig(workload, 3))
	p.signal(syscall.SIGHUP)
	waitStarts(t, p, 1, func(s started) bool { return s.index == 2 && s.count == 3 })
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(workersTimeout); code != 0 {
		t.Errorf("after SIGTERM: exit %d, want 0", code)
	}
}

// TestStopDuringALoadOfAFIFOIsActedUpon: a stop request that comes while
// the master loads its configuration is acted upon. Before, opening a FIFO
// blocked the master's only loop (11 minutes, and a SIGTERM ignored
// meanwhile); the load cannot block now, and signals are caught before it.
func TestStopDuringALoadOfAFIFOIsActedUpon(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	dir := t.TempDir()

	// At start-up: refused at once with 2, the configuration code. The
	// SIGTERM comes 200 ms later, when the fixed pidone has long exited and
	// the old one sat in open(2), never to act on it. (Earlier, it could
	// come before pidone catches signals at all: the early-SIGTERM window,
	// tested on its own.)
	fifo := filepath.Join(dir, "fifo.json")
	mkfifo(t, fifo)
	p := startPidone(t, "--config", fifo)
	time.Sleep(200 * time.Millisecond)
	unix.Kill(p.pid, unix.SIGTERM) // ESRCH once it has exited
	if code := p.exitCode(refuseWithin); code != 2 {
		t.Errorf("--config FIFO: exit %d, want 2 (the configuration is refused)", code)
	}
	p.stderr.WaitEOF(t, refuseWithin)
	if p.stderr.Count(regexp.MustCompile(`is a named pipe \(FIFO\), not a regular file`)) != 1 {
		t.Errorf("no clear message:\n%s", p.stderr.Tail(5))
	}

	// On reload: the reload starts 100 ms after SIGHUP; the SIGTERM comes
	// in that window or while the FIFO is opened, and stops the master (0).
	config := filepath.Join(dir, "workers.json")
	writeFile(t, config, webConfig(workload, 2))
	p = startMaster(t, "-v", "--config", config)
	waitStarts(t, p, 2, nil)
	os.Remove(config)
	mkfifo(t, config)
	p.signal(syscall.SIGHUP)
	time.Sleep(120 * time.Millisecond)
	start := time.Now()
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(workersTimeout); code != 0 {
		t.Errorf("SIGTERM during a reload of a FIFO: exit %d, want 0", code)
	}
	t.Logf("SIGTERM to exit: %v", time.Since(start).Round(time.Millisecond))
	p.stdout.WaitEOF(t, workersTimeout)
	if n := stdoutCount(p, `^worker exit index=\d+ pid=\d+ code=0$`); n != 2 {
		t.Errorf("%d workers exited on SIGTERM, want 2", n)
	}
}

// TestSecondMasterRefusedAfterItsLockFileIsRemoved: removing PATH.lock by
// hand (it looks like litter) does not let a second master start over a
// running one: the first also locks the pidfile it wrote.
func TestSecondMasterRefusedAfterItsLockFileIsRemoved(t *testing.T) {
	t.Parallel()
	_, workload := bins(t)
	pidfile := filepath.Join(t.TempDir(), "master.pid")
	first := startMaster(t, "-v", "--workers", "1", "--pidfile", pidfile, "--", workload, "worker")
	waitStarts(t, first, 1, nil)
	eventually(t, workersTimeout, func() (bool, string) {
		b, err := os.ReadFile(pidfile)
		return err == nil && string(b) == "1\n", fmt.Sprintf("pidfile: %q, %v", b, err)
	})
	if err := os.Remove(pidfile + ".lock"); err != nil {
		t.Fatal(err)
	}

	second := startMaster(t, "-v", "--workers", "1", "--pidfile", pidfile, "--", workload, "worker")
	second.closeStdin()
	if code := second.exitCode(workersTimeout); code != 3 {
		t.Errorf("second master: exit %d, want 3 (already running)", code)
	}
	second.stderr.WaitEOF(t, workersTimeout)
	second.stdout.WaitEOF(t, workersTimeout)
	if second.stderr.Count(regexp.MustCompile(`another pidone master \(pid 1\) is running with pidfile .*: the pidfile is locked`)) != 1 {
		t.Errorf("no clear message:\n%s", second.stderr.Tail(5))
	}
	if n := len(parseStarts(second.stdout.Snapshot())); n != 0 {
		t.Errorf("the refused master started %d workers", n)
	}
	if _, err := os.Stat(pidfile + ".lock"); !os.IsNotExist(err) {
		t.Errorf("the refused master left a lock file: %v", err)
	}
	if code, out := ctlIn(t, first, "status", "--pidfile", pidfile); code != 0 || !strings.HasPrefix(out, "running (pid 1)") {
		t.Errorf("ctl status of the first master without its lock file: %d %q, want 0 running", code, out)
	}

	first.signal(syscall.SIGTERM)
	if code := first.exitCode(workersTimeout); code != 0 {
		t.Errorf("first master: exit %d, want 0", code)
	}
	if left, _ := os.ReadDir(filepath.Dir(pidfile)); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
