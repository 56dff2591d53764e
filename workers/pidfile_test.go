package workers

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

	// ctl sees it running with the recorded signals, and who it is beyond
	// its pid: our PID namespace and start time.
	b, err := os.ReadFile(path + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	want := testInfo
	want.PidNS, want.StartTime = selfIdentity()
	if info := parseLockInfo(b); info != want || want.PidNS == 0 || want.StartTime == 0 {
		t.Errorf("lock info %+v, want %+v", info, want)
	}
	if fi, err := os.Stat(path + ".lock"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode %v, %v; want 0600: whoever can open it can hold its lock", fi.Mode(), err)
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

	// Locked, and the lock file and pidfile name an unrelated process,
	// with its true start time: unknown, not pidone.
	sleep := exec.Command("sleep", "60")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	pf, err := AcquirePidfile(path, testInfo)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Release(0)
	ns, _ := selfIdentity()
	sleepStart, err := startTimeOf(strconv.Itoa(sleep.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	pf.record(lockInfo{Pid: sleep.Process.Pid, PidNS: ns, StartTime: sleepStart, ReloadSignal: unix.SIGHUP, RestartSignal: unix.SIGUSR2})
	pf.Write(sleep.Process.Pid)
	if p := probeMaster(path); p.state != probeUnknown || !strings.Contains(p.detail, "not pidone") {
		t.Errorf("locked, pidfile names sleep: %+v; want unknown, not pidone", p)
	}

	// Locked and naming us, as we recorded ourselves: running.
	self := testInfo
	self.PidNS, self.StartTime = selfIdentity()
	pf.record(self)
	pf.Write(os.Getpid())
	if p := probeMaster(path); p.state != probeRunning || p.pid != os.Getpid() || p.uid != os.Geteuid() || p.info != self {
		t.Errorf("locked, pidfile names us: %+v; want running", p)
	}

	// The lock records another pid than the pidfile: unknown.
	pf.record(lockInfo{Pid: 1, PidNS: ns, StartTime: 1, ReloadSignal: unix.SIGHUP, RestartSignal: unix.SIGUSR2})
	if p := probeMaster(path); p.state != probeUnknown || !strings.Contains(p.detail, "holds the lock") {
		t.Errorf("lock and pidfile disagree: %+v; want unknown", p)
	}

	// A lock file of an older pidone (no namespace, no start time): the
	// kernel's word on who holds the lock decides. We hold it: running.
	pf.record(testInfo)
	if p := probeMaster(path); p.state != probeRunning || p.pid != os.Getpid() {
		t.Errorf("old-format lock file held by the pid it names: %+v; want running", p)
	}
	// And it names sleep, which does not hold it: unknown.
	pf.record(lockInfo{Pid: sleep.Process.Pid, ReloadSignal: unix.SIGHUP, RestartSignal: unix.SIGUSR2})
	pf.Write(sleep.Process.Pid)
	if p := probeMaster(path); p.state != probeUnknown || !strings.Contains(p.detail, fmt.Sprintf("not by pid %d", sleep.Process.Pid)) {
		t.Errorf("old-format lock file naming a pid that does not hold it: %+v; want unknown", p)
	}
}

// TestJudge covers every way a held lock may fail to name a master of
// ours: each field of an otherwise good sighting, spoiled in turn.
func TestJudge(t *testing.T) {
	good := sighting{
		path: "/run/m.pid", selfNS: 7, lockHeld: true, holders: []int{42}, recorded: true,
		info:    lockInfo{Pid: 42, PidNS: 7, StartTime: 1000, ReloadSignal: unix.SIGHUP, RestartSignal: unix.SIGUSR2},
		lockUid: 0, pidfile: true, pid: 42, pidfileUid: 0, start: 1000, uid: 0, pidone: true, exe: "/pidone",
	}
	for _, tc := range []struct {
		doc   string
		spoil func(*sighting)
		state probeState
		want  string // in the detail
	}{
		{"all agree", func(s *sighting) {}, probeRunning, ""},
		{"nothing there", func(s *sighting) { *s = sighting{path: s.path, pidErr: os.ErrNotExist} }, probeNotRunning, ""},
		{"lock free, pidfile left", func(s *sighting) { s.lockHeld, s.recorded = false, false }, probeStale, "holds pid 42, but its lock is not held"},
		{"another PID namespace", func(s *sighting) { s.info.PidNS = 8 }, probeElsewhere, "another PID namespace (pid:[8]; this is pid:[7])"},
		{"another namespace, even if pid, start and owner agree here", func(s *sighting) { s.selfNS = 9 }, probeElsewhere, "another PID namespace"},
		{"old format, holder not visible here", func(s *sighting) { s.info.PidNS, s.info.StartTime, s.holders = 0, 0, nil }, probeElsewhere, "no process of this PID namespace holds the lock"},
		{"old format, held by another pid", func(s *sighting) { s.info.PidNS, s.info.StartTime, s.holders = 0, 0, []int{43} }, probeUnknown, "held by pid 43, not by pid 42"},
		{"old format, held by the pid named", func(s *sighting) { s.info.PidNS, s.info.StartTime = 0, 0 }, probeRunning, ""},
		{"lock file removed, pidfile locked by the pid named", func(s *sighting) { s.recorded, s.info = false, parseLockInfo(nil) }, probeRunning, ""},
		{"lock file removed, pidfile locked by a stranger", func(s *sighting) { s.recorded, s.info, s.holders = false, parseLockInfo(nil), []int{99} }, probeUnknown, "held by pid 99"},
		{"pidfile unreadable", func(s *sighting) { s.pidErr = errors.New("m.pid is a named pipe (FIFO)") }, probeUnknown, "pidfile cannot be read"},
		{"lock and pidfile disagree", func(s *sighting) { s.pid = 43 }, probeUnknown, "the pidfile says pid 43, but pid 42 holds the lock"},
		{"pid gone", func(s *sighting) { s.procErr = os.ErrNotExist }, probeUnknown, "pid 42 cannot be looked at"},
		{"pid reused", func(s *sighting) { s.start = 2000 }, probeUnknown, "not the master that took the lock"},
		{"not pidone", func(s *sighting) { s.pidone, s.exe = false, "/bin/sleep" }, probeUnknown, "runs /bin/sleep, not pidone"},
		{"lock file of another user", func(s *sighting) { s.lockUid = 65534 }, probeUnknown, "m.pid.lock belongs to uid 65534, but the master (pid 42) runs as uid 0"},
		{"pidfile of another user", func(s *sighting) { s.pidfileUid = 65534 }, probeUnknown, "m.pid belongs to uid 65534"},
		{"lock unreadable", func(s *sighting) { s.lockErr = &os.PathError{Op: "open", Path: "m.pid.lock", Err: unix.EACCES} }, probeUnknown, "run pidone ctl as the master's user or as root"},
		{"a shared lock, nobody named", func(s *sighting) { s.lockHeld, s.lockShared, s.holders = false, true, []int{77} }, probeUnknown, "pid 77 holds a shared lock on it: no master can start"},
	} {
		s := good
		tc.spoil(&s)
		p := judge(s)
		if p.state != tc.state || !strings.Contains(p.detail, tc.want) {
			t.Errorf("%s: %+v; want state %d, detail with %q", tc.doc, p, tc.state, tc.want)
		}
		if p.state == probeRunning && (p.pid != 42 || p.start != 1000) {
			t.Errorf("%s: running %+v; want pid 42 and its start time", tc.doc, p)
		}
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

// holdLock has flock(1), another process, hold a lock on path (shared or
// exclusive) until the test ends, and returns its pid.
func holdLock(t *testing.T, path string, shared bool) int {
	t.Helper()
	flock, err := exec.LookPath("flock")
	if err != nil {
		t.Fatalf("flock(1) is needed for this test: %v", err)
	}
	mode := "--exclusive"
	if shared {
		mode = "--shared"
	}
	cmd := exec.Command(flock, mode, "--nonblock", "--close", path, "sh", "-c", "echo locked; exec sleep 60")
	r, w, _ := os.Pipe()
	cmd.Stdout = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { unix.Kill(-cmd.Process.Pid, unix.SIGKILL); cmd.Wait() })
	buf := make([]byte, 7)
	if _, err := r.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("flock did not lock %s: %q %v", path, buf, err)
	}
	return cmd.Process.Pid
}

// deadPid is a pid that no process has now.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestAStrangersLockOnALeftPidfileDoesNotBlockANewMaster (issue 18, item
// 7): the pidfile is readable by everyone, so anybody may lock it after its
// master died; a master starting then must not take that lock for a
// running master's, nor may ctl.
func TestAStrangersLockOnALeftPidfileDoesNotBlockANewMaster(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.pid")
	writeTestFile(t, path, strconv.Itoa(deadPid(t))+"\n", 0o644)
	holder := holdLock(t, path, false)
	if p := probeMaster(path); p.state != probeUnknown || !strings.Contains(p.detail, fmt.Sprintf("held by pid %d, not by pid", holder)) {
		t.Errorf("ctl status: %+v; want unknown, naming the holder", p)
	}
	pf, err := AcquirePidfile(path, testInfo)
	if err != nil {
		t.Fatalf("a stranger's lock on a dead master's pidfile kept a new master from starting: %v", err)
	}
	defer pf.Release(os.Getpid())
	if err := pf.Write(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if p := probeMaster(path); p.state != probeRunning || p.pid != os.Getpid() {
		t.Errorf("ctl status of the new master: %+v; want running", p)
	}
}

// TestASharedLockOnTheLockFileIsToldTheTruth (issue 18, item 7): a lock file
// an older master left readable to everyone may be held shared by anybody,
// which keeps every master from starting; ctl status used to say "not
// running; stale pidfile". Now the master names the holder, and ctl says
// what blocks it.
func TestASharedLockOnTheLockFileIsToldTheTruth(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.pid")
	writeTestFile(t, path, strconv.Itoa(deadPid(t))+"\n", 0o644)
	writeTestFile(t, path+".lock", "pid=1\n", 0o644)
	holder := holdLock(t, path+".lock", true)
	p := probeMaster(path)
	if p.state != probeUnknown || !strings.Contains(p.detail, fmt.Sprintf("pid %d holds a shared lock on it: no master can start", holder)) {
		t.Errorf("ctl status: %+v; want unknown, naming the holder", p)
	}
	_, err := AcquirePidfile(path, testInfo)
	var re *RunningError
	if !errors.As(err, &re) || !slices.Equal(re.Holders, []int{holder}) || !strings.Contains(err.Error(), fmt.Sprintf("is held by pid %d", holder)) {
		t.Errorf("acquire: %v; want a RunningError naming pid %d", err, holder)
	}
}

// TestTheLockFileIsOursAndPrivate (issue 18, item 6): a lock file another
// user made is refused (they could rewrite what ctl acts on), and ours is
// made 0600, even one an older master left 0644.
func TestTheLockFileIsOursAndPrivate(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a file of another user")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "m.pid")
	writeTestFile(t, path+".lock", "pid=1\nreload-signal=TERM\n", 0o644)
	if err := os.Chown(path+".lock", 65534, 65534); err != nil {
		t.Fatal(err)
	}
	_, err := AcquirePidfile(path, testInfo)
	if !errors.As(err, new(*UnsafePathError)) || ExitCode(err) != ExitConfig || !strings.Contains(err.Error(), "m.pid.lock belongs to uid 65534, not to pidone's uid 0") {
		t.Errorf("another user's lock file: %v; want refused, exit 2", err)
	}
	if b, _ := os.ReadFile(path + ".lock"); string(b) != "pid=1\nreload-signal=TERM\n" {
		t.Errorf("another user's lock file was written: %q", b)
	}

	// A hard link to a file of ours is not a lock file: recording in it
	// would overwrite that file.
	precious := filepath.Join(dir, "precious")
	writeTestFile(t, precious, "keep me\n", 0o600)
	os.Remove(path + ".lock")
	if err := os.Link(precious, path+".lock"); err != nil {
		t.Fatal(err)
	}
	if _, err := AcquirePidfile(path, testInfo); !errors.As(err, new(*UnsafePathError)) || !strings.Contains(err.Error(), "has 2 hard links") {
		t.Errorf("a lock file that is a hard link: %v; want refused", err)
	}
	if b, _ := os.ReadFile(precious); string(b) != "keep me\n" {
		t.Errorf("the linked file was written: %q", b)
	}
	os.Remove(path + ".lock")

	writeTestFile(t, path+".lock", "pid=1\n", 0o644)
	pf, err := AcquirePidfile(path, testInfo)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Release(0)
	if fi, err := os.Stat(path + ".lock"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("an older master's 0644 lock file: %v %v; want 0600", fi.Mode(), err)
	}
}

func writeTestFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
