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

// Sigset converts a set of signals 1-64 (bit sig-1 for signal sig) for the
// kernel, whose sigset words are 32 bits wide on some architectures and 64
// on others.
func Sigset(bits uint64) unix.Sigset_t {
	var set unix.Sigset_t
	width := uint(8 * unsafe.Sizeof(set.Val[0]))
	for sig := uint(1); sig <= 64; sig++ {
		if bits&(1<<(sig-1)) != 0 {
			set.Val[(sig-1)/width] |= 1 << ((sig - 1) % width)
		}
	}
	return set
}

// Bits reads signals 1-64 out of a kernel sigset: the inverse of Sigset.
func Bits(set unix.Sigset_t) uint64 {
	var bits uint64
	width := uint(8 * unsafe.Sizeof(set.Val[0]))
	for sig := uint(1); sig <= 64; sig++ {
		if set.Val[(sig-1)/width]&(1<<((sig-1)%width)) != 0 {
			bits |= 1 << (sig - 1)
		}
	}
	return bits
}
