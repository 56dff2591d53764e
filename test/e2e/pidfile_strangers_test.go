package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The pidfile's directory as a hostile local user reaches it (issue 18,
// items 6 and 7): uid 65534 ("nobody") stands for the stranger.

const strangerUid = 65534

// asStranger runs argv as uid and gid 65534, and returns its exit status and
// output.
func asStranger(t *testing.T, argv ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: strangerUid, Gid: strangerUid}}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatalf("%q as uid %d: %v", argv, strangerUid, err)
	}
	return 0, string(out)
}

// strangerLocks has uid 65534 lock path with flock(1) (mode --shared or
// --exclusive, waiting for the lock if need be) and hold the lock until the
// test ends; lockTaken says how that went.
func strangerLocks(t *testing.T, path, mode string) *nsInit {
	t.Helper()
	cmd := exec.Command("flock", mode, "--close", path, "sh", "-c", "echo locked; exec sleep 600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: strangerUid, Gid: strangerUid}, Setpgid: true}
	p := startCmd(t, cmd, cmd.Args)
	t.Cleanup(func() { unix.Kill(-p.pid, unix.SIGKILL) })
	p.closeStdin()
	return p
}

// lockTaken waits until the flock(1) of strangerLocks holds its lock (true)
// or has given up (false, and what it said).
func lockTaken(t *testing.T, p *nsInit) (bool, string) {
	t.Helper()
	locked := regexp.MustCompile(`^locked$`)
	eventually(t, workersTimeout, func() (bool, string) {
		select {
		case <-p.done:
			return true, ""
		default:
			return p.stdout.Count(locked) > 0, "flock neither locked nor exited"
		}
	})
	if p.stdout.Count(locked) > 0 {
		return true, ""
	}
	p.stderr.WaitEOF(t, workersTimeout)
	return false, strings.Join(p.stderr.Snapshot(), "\n")
}

// strangerDir makes a directory under /tmp that uid 65534 can reach:
// world-writable and sticky like /tmp itself (sticky), or only root's.
func strangerDir(t *testing.T, sticky bool) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pidone-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	mode := os.FileMode(0o755)
	if sticky {
		mode = 0o777 | os.ModeSticky
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestALockFileOfAnotherUserIsRefused is item 6: in a sticky directory a
// stranger made PATH.lock before the master started. The master used to
// take it as it found it, and the stranger, still its owner, then rewrote
// what it records (reload-signal=TERM): root's `pidone ctl reload` stopped
// the master. The master now refuses a lock file it does not own, with a
// usage error naming the owner.
func TestALockFileOfAnotherUserIsRefused(t *testing.T) {
	t.Parallel()
	needRoot(t, "the stranger is uid 65534")
	_, workload := bins(t)
	dir := strangerDir(t, true)
	pidfile := filepath.Join(dir, "app.pid")
	if code, out := asStranger(t, "sh", "-c", `printf 'pid=1\nreload-signal=TERM\nrestart-signal=TERM\n' > "$0"`, pidfile+".lock"); code != 0 {
		t.Fatalf("the stranger could not make the lock file: %d %s", code, out)
	}
	master := startMaster(t, "--workers", "1", "--pidfile", pidfile, "--", workload, "worker")
	master.closeStdin()
	if code := master.exitCode(workersTimeout); code != 2 {
		t.Errorf("master over a stranger's lock file: exit %d, want 2", code)
	}
	master.stderr.WaitEOF(t, workersTimeout)
	want := regexp.MustCompile(`app\.pid\.lock belongs to uid 65534, not to pidone's uid 0`)
	if master.stderr.Count(want) != 1 {
		t.Errorf("no clear message:\n%s", master.stderr.Tail(5))
	}
	if b, _ := os.ReadFile(pidfile + ".lock"); !strings.Contains(string(b), "reload-signal=TERM") {
		t.Errorf("the stranger's file was written: %q", b)
	}
}

// TestAStrangerCannotKeepTheMasterFromRestarting is item 7: the lock file
// was 0644, and a shared flock needs only read access, so after a master's
// unclean death (SIGKILL, below another init) any user holding the lock kept
// every new master out (exit 3) while ctl status said "not running; stale
// pidfile". Now the lock file is 0600, and a stranger's lock on the pidfile
// (readable by everyone, as pidfiles are) is not taken for a master's.
func TestAStrangerCannotKeepTheMasterFromRestarting(t *testing.T) {
	t.Parallel()
	needRoot(t, "the stranger is uid 65534")
	pidone, workload := bins(t)
	dir := strangerDir(t, false)
	pidfile := filepath.Join(dir, "app.pid")
	// Below another init, as a subreaper: here the master can die
	// without its namespace, and the stranger outlives it.
	masterArgs := []string{pidone, "--workers", "1", "--pidfile", pidfile, "--", workload, "worker"}
	first := startOutside(t, masterArgs...)
	worker := waitStarts(t, first, 1, nil)[0]
	t.Cleanup(func() { unix.Kill(worker.pid, unix.SIGKILL) })
	eventually(t, workersTimeout, func() (bool, string) {
		code, out := runCmd(t, pidone, "ctl", "status", "--pidfile", pidfile)
		return code == 0, fmt.Sprintf("ctl status: %d %q", code, out)
	})

	// The stranger waits for the lock file's lock, to hold it once the
	// master is gone.
	onLockFile := strangerLocks(t, pidfile+".lock", "--shared")
	first.signal(syscall.SIGKILL)
	<-first.done
	unix.Kill(worker.pid, unix.SIGKILL)
	if ok, out := lockTaken(t, onLockFile); ok {
		t.Errorf("uid %d holds a shared lock on the dead master's lock file", strangerUid)
	} else if !strings.Contains(out, "Permission denied") {
		t.Errorf("flock as uid %d: %q, want permission denied", strangerUid, out)
	}
	// The pidfile is readable by everyone, as pidfiles are: the stranger
	// may lock it.
	onPidfile := strangerLocks(t, pidfile, "--exclusive")
	if ok, out := lockTaken(t, onPidfile); !ok {
		t.Fatalf("uid %d could not lock the pidfile, readable by everyone: %s", strangerUid, out)
	}
	stranger := onPidfile.pid
	code, out := runCmd(t, pidone, "ctl", "status", "--pidfile", pidfile)
	if want := fmt.Sprintf("unknown: the lock is held by pid %d, not by pid %d", stranger, first.pid); code != 4 || !strings.HasPrefix(out, want) {
		t.Errorf("ctl status after the master's death: %d %q; want 4, %q", code, out, want)
	}

	second := startOutside(t, masterArgs...)
	next := waitStarts(t, second, 1, nil)[0]
	t.Cleanup(func() { unix.Kill(next.pid, unix.SIGKILL) })
	eventually(t, workersTimeout, func() (bool, string) {
		code, out := runCmd(t, pidone, "ctl", "status", "--pidfile", pidfile)
		want := fmt.Sprintf("running (pid %d)", second.pid)
		return code == 0 && strings.HasPrefix(out, want), fmt.Sprintf("ctl status: %d %q, want %q (a stranger, pid %d, holds a lock on the pidfile)", code, out, want, stranger)
	})
	if fi, err := os.Stat(pidfile + ".lock"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v %v; want mode 0600", fi.Mode(), err)
	}
	second.signal(syscall.SIGTERM)
	if code := second.exitCode(workersTimeout); code != 0 {
		t.Errorf("second master: exit %d, want 0", code)
	}
}

// TestCtlActsOnlyOnFilesTheMasterOwns is item 6 from ctl's side: what ctl
// reads decides which signal it sends, so a lock file, pidfile or status
// file another user could have written is not acted on, and one that is
// not a regular file is not read.
func TestCtlActsOnlyOnFilesTheMasterOwns(t *testing.T) {
	t.Parallel()
	needRoot(t, "nsenter cannot join the namespace's mount namespace, and files of uid 65534")
	_, workload := bins(t)
	pidfile := filepath.Join(t.TempDir(), "app.pid")
	status := pidfile + ".status"
	master := startMaster(t, "--workers", "1", "--pidfile", pidfile, "--", workload, "worker")
	waitStarts(t, master, 1, nil)
	eventually(t, workersTimeout, func() (bool, string) {
		code, out := ctlIn(t, master, "status", "--pidfile", pidfile)
		// Settled: an idle master writes its status file no more.
		return code == 0 && regexp.MustCompile(`serving +\d+ +running +yes`).MatchString(out), fmt.Sprintf("ctl status: %d %q", code, out)
	})

	saved, err := os.ReadFile(status)
	if err != nil {
		t.Fatal(err)
	}
	// The status file: another user's, a FIFO (opening it used to wait
	// for a writer for ever), a link to /dev/zero (read until memory ran
	// out). ctl says the master runs, and why it shows no workers.
	for _, tc := range []struct {
		doc  string
		make func() error
		want string
	}{
		{"another user's", func() error {
			err := os.WriteFile(status+".x", saved, 0o644)
			if err == nil {
				err = os.Chown(status+".x", strangerUid, strangerUid)
			}
			if err == nil {
				err = os.Rename(status+".x", status)
			}
			return err
		}, "app.pid.status belongs to uid 65534, not to the master's uid 0"},
		{"a FIFO", func() error { return unix.Mkfifo(status, 0o644) }, "app.pid.status is a named pipe (FIFO), not a regular file"},
		{"a symlink to /dev/zero", func() error { return os.Symlink("/dev/zero", status) }, "app.pid.status is a symbolic link, not a regular file"},
	} {
		os.Remove(status)
		if err := tc.make(); err != nil {
			t.Fatalf("%s: %v", tc.doc, err)
		}
		// timeout(1) ends a ctl that blocks, as one did on a FIFO.
		pidone, _ := bins(t)
		code, out := runCmd(t, "timeout", append([]string{"-s", "KILL", "10", "nsenter"},
			append(nsenterArgs(master.pid, "-p", "-m"), pidone, "ctl", "status", "--pidfile", pidfile)...)...)
		if code != 0 || !strings.HasPrefix(out, "running (pid 1)") || !strings.Contains(out, "no worker status: ") || !strings.Contains(out, tc.want) || strings.Contains(out, "GROUP") {
			t.Errorf("ctl status with a status file that is %s: %d %q; want 0, running, no worker status: %s", tc.doc, code, out, tc.want)
		}
	}

	// The lock file: made another user's, it names the signals no more.
	if err := os.Chown(pidfile+".lock", strangerUid, strangerUid); err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"status", "reload", "stop"} {
		code, out := ctlIn(t, master, verb, "--pidfile", pidfile)
		if want := map[string]int{"status": 4, "reload": 1, "stop": 1}[verb]; code != want || !strings.Contains(out, "app.pid.lock belongs to uid 65534, but the master (pid 1) runs as uid 0") {
			t.Errorf("ctl %s with the lock file another user's: %d %q; want %d, refused", verb, code, out, want)
		}
	}
	os.Chown(pidfile+".lock", 0, 0)
	if code, out := ctlIn(t, master, "status", "--pidfile", pidfile); code != 0 {
		t.Errorf("ctl status with the lock file the master's again: %d %q", code, out)
	}
	if n := stdoutCount(master, `^worker sig `); n != 0 {
		t.Errorf("the worker got %d signals", n)
	}
}
