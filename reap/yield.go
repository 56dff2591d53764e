package reap

import _ "unsafe" // for go:linkname

// yield passes the reaper through the scheduler, which moves its P's
// scheduling tick (see yieldEvery), and carries on on the same thread.
//
// runtime.Gosched would do the first, but it puts the goroutine on the
// global run queue and wakes an idle thread to look at it (wakep): every
// yield of a busy reaper then woke a second thread, which spun, often took
// the reaper over, and went back to sleep (docs/performance.md, "Third
// pass: a yield that wakes nobody"). runtime.goyield puts the goroutine on
// its own P's queue and wakes nobody. It is not exported, but the runtime
// keeps it for packages that link to it (its comment: "Do not remove or
// change the type signature", go.dev/issue/67401), so the linker allows
// this without -checklinkname=0. A Go release that dropped it would make
// this package fail to link, never build silently.
//
//go:linkname yield runtime.goyield
func yield()
