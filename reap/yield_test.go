package reap

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// The reaper's yield must keep it on its thread: runtime.Gosched, which it
// used before, put it on the global run queue and woke a second thread,
// which took it over at most yields (about 175 of 200 here), so each
// yield cost a thread's wake-up and sleep (docs/performance.md). The
// pattern is the reaper's in a storm: a yield, then a system call that
// sleeps a little (its wait4), with a second P free to be woken for.
func TestYieldKeepsTheReaperOnItsThread(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const yields = 200
	moves := 0
	tid := unix.Gettid()
	for i := 0; i < yields; i++ {
		yield()
		if now := unix.Gettid(); now != tid {
			moves++
			tid = now
		}
		// 200 µs asleep in a system call, as a wait4 between two exits.
		unix.Nanosleep(&unix.Timespec{Nsec: 200_000}, nil)
	}
	// Another thread can take the goroutine only if it happens to be
	// looking for work at that moment (a GC worker's, a timer's): rare,
	// never most of the time.
	if moves > yields/10 {
		t.Fatalf("the reaper moved to another thread at %d of %d yields: yield wakes another thread", moves, yields)
	}
}
