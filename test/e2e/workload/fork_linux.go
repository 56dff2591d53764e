package main

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The orphan storm needs tens of thousands of processes quickly. Exec'ing a
// new Go binary for each costs about a millisecond; a bare fork of this small
// process costs far less. A forked copy of a Go program may not run Go code
// (no runtime threads, no scheduler), so the child runs only raw system calls
// from nosplit functions (no stack growth check can call into the runtime),
// and it is created with every signal blocked so no Go signal handler can ever
// run in it. That is the same discipline syscall.forkAndExecInChild follows.

// grandchildNap is how long a double-forked grandchild stays alive, so that it
// is usually still running when its parent exits and it is reparented: a live
// orphan rather than a zombie. A package variable, because the forked child
// may only read memory, never allocate.
var grandchildNap = syscall.Timespec{Nsec: 2_000_000}

// forkZombie forks a child that exits at once. The caller never waits for it,
// so it stays a zombie until the caller exits and the init adopts it.
//
//go:nosplit
func forkZombie() (int, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	if pid == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	return int(pid), 0
}

// forkDouble forks an intermediate that forks a grandchild and exits at once:
// the grandchild is orphaned to the init while (usually) still alive, and the
// intermediate stays the caller's zombie. The intermediate exits 0 when the
// grandchild exists and 1 when its fork failed, which the caller can read
// with waitid(WNOWAIT) without reaping it.
//
//go:nosplit
func forkDouble() (int, syscall.Errno) {
	pid, _, errno := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	if pid != 0 {
		return int(pid), 0
	}
	gpid, _, errno := syscall.RawSyscall(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0)
	if errno != 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 1, 0, 0)
	}
	if gpid == 0 {
		syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&grandchildNap)), 0, 0)
	}
	syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	return 0, 0 // not reached
}

// withSignalsBlocked runs f on a locked OS thread with every signal blocked,
// so that children forked in f inherit a fully blocked mask. The thread is
// locked because the mask belongs to the thread (pthread_sigmask(3)).
func withSignalsBlocked(f func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var all, old unix.Sigset_t
	for i := range all.Val {
		all.Val[i] = ^all.Val[i]
	}
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &all, &old); err != nil {
		return fmt.Errorf("rt_sigprocmask: %w", err)
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)
	return f()
}

// exitedZero peeks at a child's exit status with WNOWAIT, which leaves it a
// zombie: it is for the init to reap, not for us.
func exitedZero(pid int) (bool, error) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("waitid(%d): %w", pid, err)
		}
		break
	}
	// For SIGCHLD, siginfo_t holds si_pid, si_uid, si_status right after
	// the three int header fields and padding: si_status is at byte 24 on
	// 64-bit Linux (sigaction(2), include/uapi/asm-generic/siginfo.h).
	raw := (*[unsafe.Sizeof(info)]byte)(unsafe.Pointer(&info))
	status := *(*int32)(unsafe.Pointer(&raw[24]))
	const cldExited = 1 // si_code of a normal exit (CLD_EXITED)
	return info.Code == cldExited && status == 0, nil
}
