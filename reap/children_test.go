package reap

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A Reaper cannot share a process with another one (both would wait4(-1)
// and steal each other's children), and the reapers of other tests in this
// package keep running after those tests end. So each test here runs its
// scenario in a fresh copy of the test binary, moby/sys reexec style, and
// reads the verdict from its output.

const helperEnv = "REAP_CHILDREN_TEST_HELPER"

// inHelper runs scenario in a child copy of the test binary and fails the
// test with whatever the scenario reported. In the child it runs the
// scenario, prints its verdict and exits.
func inHelper(t *testing.T, name string, scenario func() error) {
	t.Helper()
	if os.Getenv(helperEnv) == name {
		if err := scenario(); err != nil {
			fmt.Println("FAIL:", err)
			os.Exit(1)
		}
		fmt.Println("OK")
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+name)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("helper %s: %v\n%s", name, err, out)
	}
}

const isolatedEnv = "REAP_ISOLATED_TEST"

// isolated runs the calling test alone in a fresh copy of the test binary
// (a reaper left running by an earlier test would reap this one's
// children) and returns false; in that copy it returns true, and the test
// body runs there.
func isolated(t *testing.T) bool {
	t.Helper()
	if os.Getenv(isolatedEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), isolatedEnv+"="+t.Name())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s in its own process: %v\n%s", t.Name(), err, out)
	}
	return false
}

func spawnSh(r *Reaper, script string) (int, error) {
	c, err := r.Spawn(func() (int, int, error) {
		return forkSh(script, nil)
	})
	return c.Pid, err
}

// forkSh starts sh -c script with a pidfd (CLONE_PIDFD), as spawn.Start
// does.
func forkSh(script string, sys *syscall.SysProcAttr) (pid, pidfd int, err error) {
	if sys == nil {
		sys = &syscall.SysProcAttr{}
	}
	pidfd = -1
	sys.PidFD = &pidfd
	pid, err = syscall.ForkExec("/bin/sh", []string{"sh", "-c", script}, &syscall.ProcAttr{Sys: sys})
	return pid, pidfd, err
}

func TestStopsOfWatchedChildrenAreReported(t *testing.T) {
	inHelper(t, "stops", func() error {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return err
		}
		r := StartWith(Options{Stops: true})
		// An orphan that stops itself must not be reported: only
		// watched processes are pidone's business. Its own process
		// group, so that it can be killed at the end.
		group, err := r.Spawn(func() (int, int, error) {
			return forkSh("sh -c 'kill -STOP $$' & exit 0", &syscall.SysProcAttr{Setpgid: true})
		})
		if err != nil {
			return err
		}
		pgid := group.Pid
		defer unix.Kill(-pgid, unix.SIGKILL)
		// SIGSTOP, not SIGTSTP: the kernel discards SIGTSTP's stop in an
		// orphaned process group, and whether go test's is depends on
		// who runs it.
		pid, err := spawnSh(r, "kill -STOP $$; exit 3")
		if err != nil {
			return err
		}
		timeout := time.After(10 * time.Second)
		var stopped bool
		for {
			select {
			case e := <-r.Stops():
				if e.Pid != pid {
					return fmt.Errorf("stop reported for pid %d, want only %d", e.Pid, pid)
				}
				if !e.Status.Stopped() || e.Status.StopSignal() != unix.SIGSTOP {
					return fmt.Errorf("stop status %#x, want stopped by SIGSTOP", e.Status)
				}
				stopped = true
				if err := unix.Kill(pid, unix.SIGCONT); err != nil {
					return err
				}
			case e := <-r.Exits():
				if e.Pid != pid {
					continue // the orphan maker
				}
				if !stopped {
					return fmt.Errorf("pid %d exited before its stop was reported", pid)
				}
				if e.Code() != 3 {
					return fmt.Errorf("after SIGCONT: exit code %d, want 3", e.Code())
				}
				return nil
			case <-timeout:
				return fmt.Errorf("no stop or exit for pid %d (stopped=%v)", pid, stopped)
			}
		}
	})
}

func TestNoChildrenFollowsTheLastExit(t *testing.T) {
	inHelper(t, "nochildren", func() error {
		r := Start(nil)
		if r.HasChildren() {
			return fmt.Errorf("HasChildren before any spawn: true, want false")
		}
		if r.Stops() != nil {
			return fmt.Errorf("Stops is not nil without Options.Stops")
		}
		// Drain the hint the idle reaper may already have given.
		select {
		case <-r.NoChildren():
		case <-time.After(100 * time.Millisecond):
		}
		pid, err := spawnSh(r, "sleep 0.5; exit 5")
		if err != nil {
			return err
		}
		if !r.HasChildren() {
			return fmt.Errorf("HasChildren with a running child: false, want true")
		}
		select {
		case <-r.NoChildren():
			if r.HasChildren() {
				break // a stale hint: allowed, and HasChildren says so
			}
			return fmt.Errorf("no children while pid %d runs", pid)
		case <-time.After(200 * time.Millisecond):
		}
		select {
		case e := <-r.Exits():
			if e.Pid != pid {
				return fmt.Errorf("exit of %d, want %d", e.Pid, pid)
			}
		case <-time.After(10 * time.Second):
			return fmt.Errorf("no exit for pid %d", pid)
		}
		select {
		case <-r.NoChildren():
		case <-time.After(10 * time.Second):
			return fmt.Errorf("no NoChildren hint after the last child was reaped")
		}
		if r.HasChildren() {
			return fmt.Errorf("HasChildren after the last exit: true, want false")
		}
		return nil
	})
}

func TestEmptyWaitsForTheLastExitToBePublished(t *testing.T) {
	inHelper(t, "empty", func() error {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return err
		}
		inCallback, release := make(chan int), make(chan struct{})
		r := Start(func(e Exit) {
			inCallback <- e.Pid
			<-release
		})
		pid, err := spawnSh(r, "sleep 0.1 & exit 0")
		if err != nil {
			return err
		}
		if e := <-r.Exits(); e.Pid != pid {
			return fmt.Errorf("exit of %d, want %d", e.Pid, pid)
		}
		select {
		case <-inCallback: // the orphaned sleep is reaped; its callback blocks
		case <-time.After(10 * time.Second):
			return fmt.Errorf("the orphan was never reaped")
		}
		if r.HasChildren() {
			return fmt.Errorf("HasChildren with every child reaped: true")
		}
		if r.Empty() {
			return fmt.Errorf("Empty while the last orphan is still being published: true, want false")
		}
		close(release)
		// A hint may be stale (the one from before the spawn): each is
		// a cue to ask Empty, which must turn true after the last one.
		timeout := time.After(10 * time.Second)
		for {
			select {
			case <-r.NoChildren():
				if r.Empty() {
					return nil
				}
			case <-timeout:
				return fmt.Errorf("Empty still false after everything was published")
			}
		}
	})
}

// sigchldCaught reports whether this process has a handler on SIGCHLD, from
// the SigCgt mask in /proc/self/status.
func sigchldCaught() (bool, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if hex, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			return mask&(1<<(unix.SIGCHLD-1)) != 0, err
		}
	}
	return false, fmt.Errorf("no SigCgt in /proc/self/status")
}

// waitSigchldCaught polls until SIGCHLD's disposition is want.
func waitSigchldCaught(want bool) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		caught, err := sigchldCaught()
		if err != nil || caught == want {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("SIGCHLD caught = %v for 10 s, want %v", caught, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSigchldIsHandledOnlyWithoutChildren(t *testing.T) {
	inHelper(t, "sigchld", func() error {
		// The runtime's handler while the reaper has nothing to wait for:
		// only SIGCHLD can wake it for an adopted process.
		r := Start(nil)
		if err := waitSigchldCaught(true); err != nil {
			return fmt.Errorf("parked with no children: %w", err)
		}
		for round := range 3 {
			pid, err := spawnSh(r, "exec sleep 100")
			if err != nil {
				return err
			}
			// A child exists: SIGCHLD at SIG_DFL, wait4 alone waits.
			if err := waitSigchldCaught(false); err != nil {
				return fmt.Errorf("round %d, with a child: %w", round, err)
			}
			// The child exits while SIGCHLD is discarded: wait4 must
			// still see it.
			if err := unix.Kill(pid, unix.SIGKILL); err != nil {
				return err
			}
			select {
			case e := <-r.Exits():
				if e.Pid != pid || e.Code() != 128+int(unix.SIGKILL) {
					return fmt.Errorf("round %d: got %+v, want pid %d killed", round, e, pid)
				}
			case <-time.After(10 * time.Second):
				return fmt.Errorf("round %d: no exit for pid %d", round, pid)
			}
			if err := waitSigchldCaught(true); err != nil {
				return fmt.Errorf("round %d, no children again: %w", round, err)
			}
		}
		return nil
	})
}
