package workers

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var testInfo = lockInfo{Pid: os.Getpid(), ReloadSignal: unix.SIGUSR1, RestartSignal: unix.SIGUSR2}

func TestPidfileLockWriteRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.pid")
	pf, err := AcquirePidfile(path, testInfo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pidfile exists before Write: %v", err)
	}

	// A second master refuses, and names the first once it has written.
	if err := pf.Write(4242); err != nil {
		t.Fatal(err)
	}
	_, err = AcquirePidfile(path, testInfo)
	var re *RunningError
	if !errors.As(err, &re) || re.Pid != 4242 || ExitCode(err) != ExitRunning {
		t.Fatalf("second acquire: %v; want a RunningError naming pid 4242", err)
	}
	if got, err := readPid(path); err != nil || got != 4242 {
		t.Errorf("pidfile holds %d, %v; want 4242", got, err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".m.pid.*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// ctl sees it running with the recorded signals.
	f, err := os.Open(path + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	info := readLockInfo(f)
	f.Close()
	if info != testInfo {
		t.Errorf("lock info %+v, want %+v", info, testInfo)
	}

	// Released by someone whose pid it no longer holds: kept.
	if err := pf.Release(1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("pidfile holding another pid was removed: %v", err)
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left: %v", err)
	}

	// Stale now: a new master takes over, and removes what it wrote.
	pf, err = AcquirePidfile(path, testInfo)
	if err != nil {
		t.Fatalf("acquire over a stale pidfile: %v", err)
	}
	if err := pf.Write(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if err := pf.Release(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pidfile left after release: %v", err)
	}
}

func TestPidfileLockDiesWithItsHolder(t *testing.T) {
	// flock(1) from util-linux holds the lock in another process (-o: not
	// in the command it runs); killing it must free the lock without
	// anybody cleaning up.
	flock, err := exec.LookPath("flock")
	if err != nil {
		t.Fatalf("flock(1) is needed for this test: %v", err)
	}
	path := filepath.Join(t.TempDir(), "m.pid")
	cmd := exec.Command(flock, "--exclusive", "--close", path+".lock", "sh", "-c", "echo locked; exec sleep 60")
	r, w, _ := os.Pipe()
	cmd.Stdout = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	buf := make([]byte, 7)
	if _, err := r.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("flock did not lock: %q %v", buf, err)
	}
	if _, err := AcquirePidfile(path, testInfo); !errors.As(err, new(*RunningError)) {
		t.Fatalf("acquire while another process holds the lock: %v", err)
	}
	unix.Kill(-cmd.Process.Pid, unix.SIGKILL) // flock and its sleep
	cmd.Wait()
	pf, err := AcquirePidfile(path, testInfo)
	if err != nil {
		t.Fatalf("acquire after the holder died: %v", err)
	}
	pf.Release(0)
}

func TestPidfileRefusesUnsafePaths(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open")
	sticky := filepath.Join(dir, "sticky")
	for _, d := range []string{open, sticky} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(open, 0o777)
	os.Chmod(sticky, 0o777|os.ModeSticky)
	target := filepath.Join(dir, "target")
	os.WriteFile(target, nil, 0o644)
	os.Symlink(target, filepath.Join(dir, "link.pid"))
	os.Symlink(target, filepath.Join(dir, "lock.pid.lock"))
	os.Mkdir(filepath.Join(dir, "dir.pid"), 0o755)

	for _, tc := range []struct {
		path, want string
	}{
		{filepath.Join(open, "m.pid"), "writable by everyone and has no sticky bit"},
		{filepath.Join(dir, "link.pid"), "is a symbolic link"},
		{filepath.Join(dir, "lock.pid"), "lock.pid.lock is a symbolic link"},
		{filepath.Join(dir, "dir.pid"), "not a regular file"},
	} {
		_, err := AcquirePidfile(tc.path, testInfo)
		var ue *UnsafePathError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) || ExitCode(err) != ExitConfig {
			t.Errorf("%s: %v; want an UnsafePathError saying %q", tc.path, err, tc.want)
		}
	}
	pf, err := AcquirePidfile(filepath.Join(sticky, "m.pid"), testInfo)
	if err != nil {
		t.Fatalf("a sticky world-writable directory (like /tmp) is fine: %v", err)
	}
	pf.Release(0)
	if b, _ := os.ReadFile(target); len(b) != 0 {
		t.Errorf("the symlink target was written: %q", b)
	}
}

func TestProbeMaster(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.pid")
	if p := probeMaster(path); p.state != probeNotRunning {
		t.Errorf("nothing there: %+v", p)
	}

	// A pidfile naming a live process, no lock: stale, whatever it names.
	os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	if p := probeMaster(path); p.state != probeStale || p.pid != os.Getpid() {
		t.Errorf("pidfile without lock: %+v; want stale", p)
	}

	// Locked, but the pidfile names an unrelated process: unknown.
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	pf, err := AcquirePidfile(path, lockInfo{ReloadSignal: unix.SIGHUP, RestartSignal: unix.SIGUSR2})
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Release(0)
	pf.Write(sleep.Process.Pid)
	if p := probeMaster(path); p.state != probeUnknown || !strings.Contains(p.detail, "not pidone") {
		t.Errorf("locked, pidfile names sleep: %+v; want unknown, not pidone", p)
	}

	// Locked and naming a process whose executable is ours: running.
	pf.Write(os.Getpid())
	if p := probeMaster(path); p.state != probeRunning || p.pid != os.Getpid() {
		t.Errorf("locked, pidfile names us: %+v; want running", p)
	}

	// The lock records another pid than the pidfile: unknown.
	pf.record(lockInfo{Pid: 1, ReloadSignal: unix.SIGHUP, RestartSignal: unix.SIGUSR2})
	if p := probeMaster(path); p.state != probeUnknown || !strings.Contains(p.detail, "holds the lock") {
		t.Errorf("lock and pidfile disagree: %+v; want unknown", p)
	}
}

// TestDeletedLockFileDoesNotLetASecondMasterIn: the pidfile a master wrote
// is locked too, so removing PATH.lock by hand (it looks like litter) does
// not let a second master start over a running one.
func TestDeletedLockFileDoesNotLetASecondMasterIn(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.pid")
	first, err := AcquirePidfile(path, testInfo)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Write(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path + ".lock"); err != nil {
		t.Fatal(err)
	}

	second, err := AcquirePidfile(path, testInfo)
	var re *RunningError
	if !errors.As(err, &re) || re.Pid != os.Getpid() || !re.PidfileLocked || ExitCode(err) != ExitRunning {
		second.Release(0)
		t.Fatalf("second acquire with the lock file removed: %v; want a RunningError naming pid %d", err, os.Getpid())
	}
	if !strings.Contains(err.Error(), "the pidfile is locked") {
		t.Errorf("message %q does not say why", err)
	}
	if _, err := os.Stat(path + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused master left a lock file: %v", err)
	}
	// ctl still finds the first master (the test binary is "pidone" here:
	// its /proc/PID/exe is our own).
	if p := probeMaster(path); p.state != probeRunning || p.pid != os.Getpid() {
		t.Errorf("ctl probe with the lock file removed: %+v; want running", p)
	}

	if err := first.Release(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left after release: %v", left)
	}
	third, err := AcquirePidfile(path, testInfo)
	if err != nil {
		t.Fatalf("acquire after the first released: %v", err)
	}
	third.Release(0)
}

func TestReadPidIsBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.pid")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // before the fix, open(2) blocked for a writer
		if fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(fd)
		}
	})
	big := filepath.Join(dir, "big.pid")
	os.WriteFile(big, []byte("12"+strings.Repeat(" ", 1<<20)), 0o644)
	done := make(chan error, 2)
	go func() { _, err := readPid(fifo); done <- err }()
	go func() { _, err := readPid(big); done <- err }()
	for range 2 {
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("a FIFO or a 1 MiB file read as a pid")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("readPid blocked")
		}
	}
}

func TestParsePid(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int // 0: refused
	}{
		{"1\n", 1}, {"4242", 4242}, {" 17 \n", 17}, {"4194304\n", 4194304}, {"0017\n", 17},
		{"", 0}, {"\n", 0}, {"0\n", 0}, {"-1\n", 0}, {"+5\n", 0}, {"4194305\n", 0}, {"99999999999999999999\n", 0},
		{"12 13\n", 0}, {"12\n13\n", 0}, {"0x10\n", 0}, {"１２\n", 0},
	} {
		got, err := parsePid([]byte(tc.in))
		if got != tc.want || (err == nil) != (tc.want != 0) {
			t.Errorf("parsePid(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	_, err := parsePid([]byte(strings.Repeat("x", 1000)))
	if err == nil || len(err.Error()) > 120 {
		t.Errorf("parsePid(1000 bytes): %v; want an error that does not echo them all", err)
	}
}
