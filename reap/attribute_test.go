package reap

import (
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestReapedPicksTheRegistrationTheWaitReaped(t *testing.T) {
	const wait = 7 // the number of the wait that returned the pid
	before := func(id SpawnID) registration { return registration{id: id, epoch: wait - 1, pidfd: -1} }
	during := func(id SpawnID) registration { return registration{id: id, epoch: wait, pidfd: -1} }
	for _, tc := range []struct {
		doc    string
		regs   []registration
		reaped bool // what the kernel says of regs[0], if asked
		want   int
		asks   bool // whether the kernel must be asked
	}{
		{"no registration: an orphan's exit", nil, false, -1, false},
		{"registered before the wait began: it held the pid all along", []registration{before(1)}, false, 0, false},
		{"registered before, and the pid given again during the wait", []registration{before(1), during(2)}, false, 0, false},
		{"two registered during the wait: the second got the pid the first freed", []registration{during(1), during(2)}, false, 0, false},
		{"one registered during the wait, since reaped: an instant exit", []registration{during(1)}, true, 0, true},
		{"one registered during the wait, still there: it got the pid of the orphan the wait reaped", []registration{during(1)}, false, -1, true},
	} {
		asked := false
		got := reaped(tc.regs, wait, func(reg registration) bool {
			asked = true
			if reg != tc.regs[0] {
				t.Errorf("%s: asked about %+v, want the first registration", tc.doc, reg)
			}
			return tc.reaped
		})
		if got != tc.want || asked != tc.asks {
			t.Errorf("%s: reaped = %d (asked the kernel: %v), want %d (%v)", tc.doc, got, asked, tc.want, tc.asks)
		}
	}
}

// startFaked starts a reaper whose first wait runs between(r) and then
// reports the pid and status it returns as reaped, without reaping
// anything: the interleaving in which a Spawn comes between a reap and its
// lookup, made deterministic. Every later wait is the real one.
func startFaked(o Options, between func(r *Reaper) (int, unix.WaitStatus, error)) *Reaper {
	r := newReaper(o)
	first := true
	r.wait4 = func(options int) (int, unix.WaitStatus, error) {
		if !first {
			return waitAny(options)
		}
		first = false
		return between(r)
	}
	r.start()
	return r
}

// expectExit waits for pid's exit on Exits, failing on anything else.
func expectExit(r *Reaper, orphans <-chan Exit, pid int, id SpawnID, code int) error {
	select {
	case e := <-r.Exits():
		if e.Pid != pid || e.Spawn != id || e.Code() != code {
			return fmt.Errorf("exit %+v (code %d), want pid %d spawn %d code %d", e, e.Code(), pid, id, code)
		}
		return nil
	case e := <-orphans:
		return fmt.Errorf("spawn %d's exit (pid %d) reported as an orphan's: %+v", id, pid, e)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("no exit for pid %d", pid)
	}
}

func TestASpawnThatGetsAReapedPidNeverReceivesItsExit(t *testing.T) {
	needPidfds(t)
	inHelper(t, "reused", func() error {
		orphans := make(chan Exit, 4)
		var child Child
		var spawnErr error
		callerPidfd := -1
		// The wait reaps an orphan that held pid P (status 42); before
		// the reaper looks P up, a Spawn forks and gets P. Here the
		// fork comes first and the "orphan" is made up with its pid,
		// which is all the reaper can see of it.
		r := startFaked(Options{OnOrphan: func(e Exit) { orphans <- e }}, func(r *Reaper) (int, unix.WaitStatus, error) {
			child, spawnErr = r.Spawn(func() (int, int, error) {
				pid, pidfd, err := forkSh("exec sleep 100", nil)
				callerPidfd = pidfd
				return pid, pidfd, err
			})
			return child.Pid, exitedStatus(42), spawnErr
		})
		select {
		case e := <-orphans:
			if spawnErr != nil {
				return spawnErr
			}
			if e.Pid != child.Pid || e.Code() != 42 {
				return fmt.Errorf("orphan %+v, want pid %d exit 42", e, child.Pid)
			}
		case e := <-r.Exits():
			return fmt.Errorf("the orphan's exit (42) was charged to spawn %d: %+v", child.ID, e)
		case <-time.After(10 * time.Second):
			return fmt.Errorf("the reaped orphan was never reported")
		}
		// The spawn's own exit is still its own.
		if err := unix.Kill(child.Pid, unix.SIGKILL); err != nil {
			return err
		}
		if err := expectExit(r, orphans, child.Pid, child.ID, 128+int(unix.SIGKILL)); err != nil {
			return err
		}
		// The caller's pidfd is the caller's; the reaper's copy is gone.
		unix.Close(callerPidfd)
		if n, err := openPidfds(); err != nil || n != 0 {
			return fmt.Errorf("%d pidfds still open after the exit (%v), want 0", n, err)
		}
		return nil
	})
}

// openPidfds counts this process's open pidfds.
func openPidfds() (int, error) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && target == "anon_inode:[pidfd]" {
			n++
		}
	}
	return n, nil
}

func TestASpawnWhoseChildDiesDuringTheWaitGetsItsExit(t *testing.T) {
	needPidfds(t)
	inHelper(t, "instant", func() error {
		orphans := make(chan Exit, 4)
		spawned := make(chan Child, 1)
		// Registered while the wait is in flight, and reaped by that
		// very wait: the same view as above, but this exit is the
		// spawn's.
		r := startFaked(Options{OnOrphan: func(e Exit) { orphans <- e }}, func(r *Reaper) (int, unix.WaitStatus, error) {
			child, err := r.Spawn(func() (int, int, error) { return forkSh("exit 7", nil) })
			if err != nil {
				return 0, 0, err
			}
			spawned <- child
			return waitAny(unix.WALL)
		})
		var child Child
		select {
		case child = <-spawned:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("no spawn")
		}
		return expectExit(r, orphans, child.Pid, child.ID, 7)
	})
}

// needPidfds skips a test of the pidfd check where the reaper does not use
// it (it then reaps under the lock, which TestLockedReaping covers).
func needPidfds(t *testing.T) {
	t.Helper()
	if !pidfdsWork() {
		t.Skip("pidfd_open or pidfd_send_signal refused here: the reaper reaps under the lock instead")
	}
}

func TestAFailedSpawnWithoutPidfdIsToldApartByPid(t *testing.T) {
	inHelper(t, "nopidfd", func() error {
		orphans := make(chan Exit, 4)
		var pid int
		// A failed spawn's exit is dropped and spawn.Start has closed
		// its pidfd; the lookup asks whether the pid still names an
		// unreaped child.
		r := startFaked(Options{OnOrphan: func(e Exit) { orphans <- e }}, func(r *Reaper) (int, unix.WaitStatus, error) {
			_, err := r.Spawn(func() (int, int, error) {
				p, fd, err := forkSh("exec sleep 100", nil)
				if err != nil {
					return 0, -1, err
				}
				unix.Close(fd)
				pid = p
				return p, -1, fmt.Errorf("made-up exec failure")
			})
			if err == nil {
				return 0, 0, fmt.Errorf("Spawn returned no error")
			}
			return pid, exitedStatus(42), nil
		})
		select {
		case e := <-orphans:
			if e.Pid != pid || e.Code() != 42 {
				return fmt.Errorf("orphan %+v, want pid %d exit 42", e, pid)
			}
		case <-time.After(10 * time.Second):
			return fmt.Errorf("the reaped orphan was never reported")
		}
		if err := unix.Kill(pid, unix.SIGKILL); err != nil {
			return err
		}
		// The failed spawn's exit goes nowhere; the next hint says all
		// is reaped.
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e := <-orphans:
				return fmt.Errorf("the failed spawn's exit reported as an orphan's: %+v", e)
			case e := <-r.Exits():
				return fmt.Errorf("the failed spawn's exit published: %+v", e)
			case <-r.NoChildren():
				if r.Empty() {
					return nil
				}
			case <-timeout:
				return fmt.Errorf("pid %d never reaped", pid)
			}
		}
	})
}

// An orphan storm reaps thousands of processes a second: reaping one and
// looking it up must not allocate (the status once escaped through the wait
// seam, one allocation per reaped process; issue 23).
func TestReapingAnOrphanAllocatesNothing(t *testing.T) {
	r := newReaper(Options{})
	r.wait4 = func(options int) (int, unix.WaitStatus, error) { return 4242, 0, nil }
	allocs := testing.AllocsPerRun(1000, func() {
		if e, _, watched, err := r.reapNext(unix.WALL); err != nil || e.Pid != 4242 || watched {
			t.Fatalf("reapNext = %+v, watched %v, %v", e, watched, err)
		}
	})
	if allocs != 0 {
		t.Errorf("reaping one orphan allocates %v times, want 0", allocs)
	}
}
