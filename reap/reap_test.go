package reap

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Wait statuses as the kernel encodes them (wait(2)): exit code in bits
// 8-15, terminating signal in bits 0-6, core flag 0x80.
func exitedStatus(code int) unix.WaitStatus { return unix.WaitStatus(code << 8) }
func signaledStatus(sig unix.Signal, core bool) unix.WaitStatus {
	ws := unix.WaitStatus(sig)
	if core {
		ws |= 0x80
	}
	return ws
}

func TestExitCodeOfEveryExitStatus(t *testing.T) {
	for code := 0; code <= 255; code++ {
		if got := ExitCode(exitedStatus(code)); got != code {
			t.Errorf("exit %d: ExitCode = %d, want %d", code, got, code)
		}
	}
}

func TestExitCodeOfEveryFatalSignal(t *testing.T) {
	// Every signal that can terminate a process, with and without a core
	// dump (the core flag must not leak into the code).
	for sig := unix.Signal(1); sig <= 64; sig++ {
		if sig == unix.SIGSTOP || sig == unix.SIGTSTP || sig == unix.SIGTTIN || sig == unix.SIGTTOU {
			continue // these stop, never terminate; 0x7f would read as "stopped"
		}
		for _, core := range []bool{false, true} {
			want := 128 + int(sig)
			if got := ExitCode(signaledStatus(sig, core)); got != want {
				t.Errorf("signal %d core=%v: ExitCode = %d, want %d", sig, core, got, want)
			}
		}
	}
}

func TestSpawnedExitIsDeliveredAndOrphansAreNot(t *testing.T) {
	// Both ways of reaping: a blocking wait4 (kernels with pidfds), and
	// wait4 WNOHANG under the lock (kernels without).
	for _, locked := range []bool{false, true} {
		t.Run(fmt.Sprintf("locked=%v", locked), func(t *testing.T) {
			if !locked {
				needPidfds(t)
			}
			spawnedAndOrphans(t, locked)
		})
	}
}

func spawnedAndOrphans(t *testing.T, locked bool) {
	if !isolated(t) {
		return // ran in a process of its own
	}
	// Make the test process a subreaper so the orphan of `sh -c 'sleep &'`
	// comes back to it, as it would to pidone.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Fatalf("prctl: %v", err)
	}
	orphans := make(chan Exit, 8)
	r := newReaper(Options{OnOrphan: func(e Exit) { orphans <- e }})
	r.lockedReap = locked
	r.start()

	for _, tc := range []struct {
		doc    string
		script string
		want   int
	}{
		{"instant exit is never mistaken for an orphan's", "exit 7", 7},
		{"death by signal decodes to 128+S", "kill -USR1 $$", 128 + int(unix.SIGUSR1)},
		{"an orphan left behind is reaped separately", "sleep 0.1 & exit 0", 0},
	} {
		c, err := r.Spawn(func() (int, int, error) {
			return forkSh(tc.script, nil)
		})
		if err != nil {
			t.Fatalf("%s: spawn: %v", tc.doc, err)
		}
		pid := c.Pid
		select {
		case e := <-r.Exits():
			if e.Pid != pid || e.Spawn != c.ID || e.Code() != tc.want {
				t.Errorf("%s: got pid %d spawn %d code %d, want pid %d spawn %d code %d", tc.doc, e.Pid, e.Spawn, e.Code(), pid, c.ID, tc.want)
			}
		case e := <-orphans:
			t.Fatalf("%s: spawned pid %d reported as orphan %+v", tc.doc, pid, e)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no exit for pid %d", tc.doc, pid)
		}
	}
	select {
	case e := <-orphans:
		if e.Code() != 0 {
			t.Errorf("orphan sleep: status %v, want exit 0", e.Status)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the orphaned sleep was never reaped")
	}
}

func TestReaperWakesAfterHavingNoChildren(t *testing.T) {
	if !isolated(t) {
		return // ran in a process of its own
	}
	// After ECHILD the loop parks; a later Spawn must wake it.
	r := Start(nil)
	for i := 0; i < 3; i++ {
		time.Sleep(20 * time.Millisecond) // let the loop reach ECHILD and park
		c, err := r.Spawn(func() (int, int, error) {
			return forkSh(fmt.Sprintf("exit %d", i), nil)
		})
		if err != nil {
			t.Fatal(err)
		}
		pid := c.Pid
		select {
		case e := <-r.Exits():
			if e.Pid != pid || e.Code() != i {
				t.Errorf("round %d: got %+v, want pid %d code %d", i, e, pid, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: reaper did not wake up for pid %d", i, pid)
		}
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		status unix.WaitStatus
		want   string
	}{
		{exitedStatus(0), "exit status 0"},
		{exitedStatus(3), "exit status 3"},
		{signaledStatus(unix.SIGTERM, false), "killed by SIGTERM"},
		{signaledStatus(unix.SIGSEGV, true), "killed by SIGSEGV (core dumped)"},
		{signaledStatus(37, false), "killed by SIGRTMIN+3"},
	} {
		if got := (Exit{Status: tc.status}).Describe(); got != tc.want {
			t.Errorf("Describe(%#x) = %q, want %q", int(tc.status), got, tc.want)
		}
	}
}
