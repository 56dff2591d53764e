// Package threads makes a Go program create, while it still can, the
// threads it will need.
//
// Under a pids limit (cgroup pids.max, or RLIMIT_NPROC for a non-root user)
// that a fork bomb keeps reached, every thread counts against the limit,
// and a thread the Go runtime cannot create is a fatal error ("runtime:
// failed to create new OS thread", fatal error: newosproc), never an error
// value. The runtime keeps an idle thread for good and takes it before it
// creates another (runtime.startm), so a program that has created as many
// threads as it will ever run at once never needs to create one again.
package threads

import (
	"runtime"
	"sync"
)

// Reserve caps GOMAXPROCS at maxProcs and has the runtime create threads
// until it has made keep. Each of the goroutines below locks its thread and
// waits for the others, so that none can share one, then unlocks it and
// ends: the thread joins the runtime's idle list.
func Reserve(maxProcs, keep int) {
	if runtime.GOMAXPROCS(0) > maxProcs {
		runtime.GOMAXPROCS(maxProcs)
	}
	n, _ := runtime.ThreadCreateProfile(nil)
	var locked, release sync.WaitGroup
	release.Add(1)
	for ; n < keep; n++ {
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
