package main

import (
	"runtime"
	"sync"
)

// Under a pids limit (cgroup pids.max, or RLIMIT_NPROC for a non-root user)
// a fork bomb keeps the limit reached, and every thread counts against it.
// A thread the Go runtime cannot create is a fatal error ("runtime: failed
// to create new OS thread", fatal error: newosproc), never an error value:
// pidone would die, and with it, as PID 1, the whole container. So pidone
// makes the threads it can need while it still can, as it starts (beside
// the main child's start, which it would otherwise delay by half a
// millisecond). The runtime keeps an idle thread for good and takes it before
// creating another (runtime.startm), so creating them once is enough.
//
// How many it can need is bounded by its goroutines: the main thread
// (locked), the reaper in wait4, os/signal's receiver, the event loop in a
// system call (a kill, a stderr write), up to GOMAXPROCS running ones
// (GC workers included), one spinning in between, and the runtime's own
// sysmon and template threads. GOMAXPROCS is capped at 2 for that (and
// because an init has nothing to run in parallel beyond the reaper and its
// loop): on a 64-CPU host the GC alone would want 64 threads.
const (
	maxProcs = 2
	// threadsKept is what the runtime then needs at most; measured under
	// a fork bomb with signals and logs: 9 (test/e2e/exhaustion_test.go).
	threadsKept = 12
)

// reserveThreads caps GOMAXPROCS and has the runtime create threads until
// it has threadsKept. Each of the goroutines below locks its thread and
// waits for the others, so that none can share one, then unlocks it and
// ends: the thread goes to the runtime's idle list.
func reserveThreads() {
	if runtime.GOMAXPROCS(0) > maxProcs {
		runtime.GOMAXPROCS(maxProcs)
	}
	n, _ := runtime.ThreadCreateProfile(nil)
	var locked, release sync.WaitGroup
	release.Add(1)
	for ; n < threadsKept; n++ {
		locked.Add(1)
		go func() {
			runtime.LockOSThread()
			locked.Done()
			release.Wait()
			runtime.UnlockOSThread()
		}()
	}
	locked.Wait()
	release.Done()
}
