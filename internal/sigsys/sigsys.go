// Package sigsys holds the signal system calls pidone makes that
// golang.org/x/sys/unix does not wrap, so that the raw calls are written
// once.
package sigsys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Timedwait takes one pending signal in set off the calling thread's queue
// or the process's (rt_sigtimedwait). With a nil timeout it sleeps until
// one is pending; with a zero timeout it returns EAGAIN at once if none is.
// The signals in set must be blocked on the calling thread.
func Timedwait(set *unix.Sigset_t, timeout *unix.Timespec) (unix.Signal, error) {
	r, _, errno := unix.Syscall6(unix.SYS_RT_SIGTIMEDWAIT, uintptr(unsafe.Pointer(set)), 0,
		uintptr(unsafe.Pointer(timeout)), SetSize, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return unix.Signal(r), nil
}
