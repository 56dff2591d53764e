package main

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// runKillself dies from the signal given, so the tests can check that pidone
// reports 128+S. Sending the signal is not enough in Go: the runtime installs
// its own handler for every signal and turns a user-sent SIGSEGV, for
// example, into something else. So the disposition is first put back to
// SIG_DFL with a raw rt_sigaction (signal.Reset restores the runtime's
// handler, not SIG_DFL), the signal is unblocked on this thread, and then it
// is sent to the whole process.
func runKillself(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: killself SIGNAL")
	}
	sig, err := parseSignal(args[0])
	if err != nil {
		return err
	}
	// No core file in the test's working directory for QUIT and SEGV.
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})

	// The thread that unblocked the signal must be the one that stays around.
	runtime.LockOSThread()

	// A zeroed kernel struct sigaction (handler, flags, restorer, mask: 32
	// bytes on amd64 and arm64) is SIG_DFL with no flags and an empty mask.
	// SIGKILL and SIGSTOP refuse (EINVAL), which is fine: they are default anyway.
	var dfl [4]uint64
	if sig != syscall.SIGKILL && sig != syscall.SIGSTOP {
		if _, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
			uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0); errno != 0 {
			return fmt.Errorf("rt_sigaction(%d): %w", sig, errno)
		}
	}
	var set unix.Sigset_t
	set.Val[(sig-1)/64] |= 1 << ((uint(sig) - 1) % 64)
	if err := unix.PthreadSigmask(unix.SIG_UNBLOCK, &set, nil); err != nil {
		return fmt.Errorf("rt_sigprocmask: %w", err)
	}
	if err := unix.Kill(unix.Getpid(), sig); err != nil {
		return fmt.Errorf("kill: %w", err)
	}
	blockForever()
	return nil
}

// blockForever sleeps until a signal ends the process. pause(2) keeps the
// goroutine in a system call, so the runtime does not report a deadlock.
func blockForever() {
	for {
		_ = unix.Pause()
	}
}
