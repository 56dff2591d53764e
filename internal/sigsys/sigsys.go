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

// Action is room for the kernel's struct sigaction on every architecture,
// read and written as words; only the handler (Action[HandlerWord]) is ever
// set, so that SIG_DFL and SIG_IGN need no other field.
type Action [8]uintptr

// Handler returns the handler word of sig's disposition: SigDFL, SigIGN or
// a handler's address.
func Handler(sig unix.Signal) uintptr {
	var act Action
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), 0, uintptr(unsafe.Pointer(&act)), SetSize, 0, 0)
	return act[HandlerWord]
}

// Ignore sets sig's disposition to SIG_IGN if it is SIG_DFL (a handler,
// the runtime's, must stay).
func Ignore(sig unix.Signal) {
	if Handler(sig) != SigDFL {
		return
	}
	var ign Action
	ign[HandlerWord] = SigIGN
	unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&ign)), 0, SetSize, 0, 0)
}

// The handler words of SIG_DFL and SIG_IGN.
const (
	SigDFL = 0
	SigIGN = 1
)
