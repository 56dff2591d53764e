package main

import "github.com/pidone/pidone/internal/threads"

// A fork bomb under a pids limit would make the Go runtime fail to create a
// thread, which kills pidone, and with it, as PID 1, the whole container
// (internal/threads). So pidone creates the threads it can need as it
// starts, beside the main child's start: a fork bomb may begin with the
// child's first instructions (test/e2e/exhaustion_test.go saw the runtime
// die when the reserve came 10 ms later). It costs start-up about a
// millisecond on two cores (docs/performance.md).
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
	// threadsKept: with 12, pidone was seen at 13 threads under a fork
	// bomb with a signal storm and debug logs, on two cores with a load
	// average of 30 (test/e2e/exhaustion_test.go); with 16, once at 17 in
	// 8 runs. On a busy machine a thread that blocked in a system call
	// loses its processor to a new one before it is idle again, so the
	// runtime needs more than the goroutines alone: a reserve makes the
	// fatal case rare, it cannot rule it out.
	threadsKept = 16
)

// threadsToMake is threadsKept, or fewer under a small pids limit
// (threads.Affordable). It reads the limit, so it runs before the
// descriptors are counted.
func threadsToMake() int { return threads.Affordable(threadsKept) }
