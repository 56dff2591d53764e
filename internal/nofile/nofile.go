// Package nofile makes sure pidone has the file descriptors it needs before
// it needs them.
//
// Under a low RLIMIT_NOFILE the first victim is not pidone's code but the Go
// runtime: the first timer or file it sets up creates the network poller (an
// epoll instance and an eventfd, runtime/netpoll_epoll.go), and a failure
// there is a fatal error with a goroutine dump ("fatal error: runtime:
// eventfd failed"), not an error value. So pidone counts, before it opens
// anything, what it will hold at most at once in the mode it runs in; if the
// limit leaves less, it stops with a message naming the limit and the number
// it needs. If not, it has the runtime create its poller at once (Reserve),
// so that from then on a shortage can only fail one of pidone's own system
// calls, which reports it.
//
// The soft limit counted is the one pidone runs with: the os package raises
// it toward the hard limit at start-up, for pidone only (spawn gives every
// child the limit pidone inherited, as internal/entry recorded it).
package nofile

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// RuntimePoller is what the Go runtime opens for its poller: an epoll
// instance and an eventfd.
const RuntimePoller = 2

// ShortError says that RLIMIT_NOFILE leaves fewer descriptors free than
// pidone needs.
type ShortError struct {
	What  string // what needs them: "pidone", "workers mode", ...
	Need  int    // descriptors to be opened, beyond those already open
	InUse int    // descriptor numbers in use below the soft limit
	Soft  uint64
	Hard  uint64
}

func (e *ShortError) Error() string {
	return fmt.Sprintf("RLIMIT_NOFILE is too low: %s needs %d file descriptors (%d open and %d more), the limit is %d (hard limit %d); raise it to at least %d (ulimit -n, docker run --ulimit nofile=N)",
		e.What, e.InUse+e.Need, e.InUse, e.Need, e.Soft, e.Hard, e.InUse+e.Need)
}

// Check returns a *ShortError unless need more descriptors can be opened
// now, under the soft limit.
func Check(need int, what string) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("getrlimit(RLIMIT_NOFILE): %w", err)
	}
	// A new descriptor takes the lowest free number below the soft limit
	// (EMFILE otherwise), so count free numbers from 0 up; stop as soon
	// as there are enough, since the limit may be millions.
	free, inUse := 0, 0
	for fd := uint64(0); fd < lim.Cur && free < need; fd++ {
		if open(int(fd)) {
			inUse++
		} else {
			free++
		}
	}
	if free >= need {
		return nil
	}
	return &ShortError{What: what, Need: need, InUse: inUse, Soft: lim.Cur, Hard: lim.Max}
}

// Reserve is Check, followed, when it passes, by the runtime's poller
// being created at once: need must count its RuntimePoller descriptors.
func Reserve(need int, what string) error {
	if err := Check(need, what); err != nil {
		return err
	}
	// A function timer goes into the timer heap at once, and the first
	// timer in the heap starts the poller (runtime.(*timers).addHeap).
	time.AfterFunc(time.Hour, func() {}).Stop()
	return nil
}

// open reports whether fd is an open descriptor, without creating one.
func open(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return !errors.Is(err, unix.EBADF)
}
