package cli

import (
	"time"

	"github.com/pidone/pidone/internal/threads"
)

// A fork bomb under a pids limit would make the Go runtime fail to create a
// thread, which kills pidone, and with it, as PID 1, the whole container
// (internal/threads). So pidone creates the threads it can need before a
// child can fork, when a task limit it can see applies (threads.Budget):
// a bomb may begin with the child's first instructions, and a reserve made
// beside it loses that race on a busy machine (test/e2e/exhaustion_test.go
// saw the runtime die). That costs start-up about a millisecond on two
// cores (docs/performance.md). With no limit in sight it is made once the
// main child has run for reserveAfter: it then neither holds the child
// back nor competes with the child's own start-up for the CPU, and a
// command that is over by then (`pidone -- /bin/true`) never pays for
// threads it would not have used (issue 19).
//
// How many it can need is bounded by its goroutines: the main thread
// (locked), the reaper in wait4, os/signal's receiver, the event loop in a
// system call (a kill, a stderr write), with --control-socket one status
// being made (they take turns; the socket itself waits in the poller), up
// to GOMAXPROCS running ones (GC workers included), one spinning in
// between, and the runtime's own sysmon and template threads. GOMAXPROCS is capped at 2 for that (and
// because an init has nothing to run in parallel beyond the reaper and its
// loop): on a 64-CPU host the GC alone would want 64 threads.
const (
	MaxProcs = 2
	// threadsKept: with 12, pidone was seen at 13 threads under a fork
	// bomb with a signal storm and debug logs, on two cores with a load
	// average of 30 (test/e2e/exhaustion_test.go); with 16, once at 17 in
	// 8 runs. On a busy machine a thread that blocked in a system call
	// loses its processor to a new one before it is idle again, so the
	// runtime needs more than the goroutines alone: a reserve makes the
	// fatal case rare, it cannot rule it out.
	threadsKept = 16
	// reserveAfter: long enough for a child's exec and start-up (a few
	// milliseconds) and for a short command to be over, short against
	// anything that runs long enough to start a bomb out of sight.
	reserveAfter = 50 * time.Millisecond
)

// ThreadPlan is how many threads pidone makes, and when.
type ThreadPlan struct {
	keep int  // threadsKept, or fewer under a small pids limit
	now  bool // before any child: a task limit applies (threads.Budget)
}

// PlanThreads reads the limits, so it runs before the descriptors are
// counted (ReserveDescriptors).
func PlanThreads() ThreadPlan {
	keep, limited := threads.Budget(threadsKept)
	return ThreadPlan{keep: keep, now: limited}
}

// Reserve makes the reserve now if the plan says so, and otherwise returns
// the call that starts it, for when the child runs.
func (p ThreadPlan) Reserve() (later func()) {
	if p.now {
		threads.Reserve(MaxProcs, p.keep)
		return func() {}
	}
	return func() { time.AfterFunc(reserveAfter, func() { threads.Reserve(MaxProcs, p.keep) }) }
}
